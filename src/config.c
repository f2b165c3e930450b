/* placeholder: config.c is being written */
typedef int kw_placeholder_config;
