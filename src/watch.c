/* placeholder: watch.c is being written */
typedef int kw_placeholder_watch;
