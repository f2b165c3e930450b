/* placeholder: relay.c is being written */
typedef int kw_placeholder_relay;
