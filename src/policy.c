/* placeholder: policy.c is being written */
typedef int kw_placeholder_policy;
