/* placeholder: metrics.c is being written */
typedef int kw_placeholder_metrics;
