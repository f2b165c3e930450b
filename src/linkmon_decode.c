/* placeholder: linkmon_decode.c is being written */
typedef int kw_placeholder_linkmon_decode;
