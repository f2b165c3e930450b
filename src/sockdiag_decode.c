/* placeholder: sockdiag_decode.c is being written */
typedef int kw_placeholder_sockdiag_decode;
