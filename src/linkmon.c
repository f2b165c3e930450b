/* placeholder: linkmon.c is being written */
typedef int kw_placeholder_linkmon;
