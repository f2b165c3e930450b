/* placeholder: loop.c is being written */
typedef int kw_placeholder_loop;
