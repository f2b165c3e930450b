/* placeholder: sockdiag_bc.c is being written */
typedef int kw_placeholder_sockdiag_bc;
