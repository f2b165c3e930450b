/* placeholder: privs.c is being written */
typedef int kw_placeholder_privs;
