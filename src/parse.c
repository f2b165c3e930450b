/* placeholder: parse.c is being written */
typedef int kw_placeholder_parse;
