/* placeholder: sockdiag.c is being written */
typedef int kw_placeholder_sockdiag;
