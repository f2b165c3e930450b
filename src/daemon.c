/* placeholder: daemon.c is being written */
typedef int kw_placeholder_daemon;
