/* placeholder: sockutil.c is being written */
typedef int kw_placeholder_sockutil;
