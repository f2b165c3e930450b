/* keepwatch: every INI key, default value and tunable constant, in one place.
 * config.c, the shipped etc/keepwatch.ini and the man pages follow this file. */
#ifndef KEEPWATCH_DEFAULTS_H
#define KEEPWATCH_DEFAULTS_H

/* The configuration's default path comes from the install prefix (GNUInstallDirs'
 * sysconfdir, given by CMake): /etc for the prefix /usr, PREFIX/etc otherwise, which is
 * where `cmake --install` puts the file and the installed unit reads it. */
#ifndef KW_SYSCONFDIR
#error "KW_SYSCONFDIR: build with CMake (it passes CMAKE_INSTALL_FULL_SYSCONFDIR)"
#endif
#define KW_DEFAULT_CONFIG_PATH KW_SYSCONFDIR "/keepwatch/keepwatch.ini"
#define KW_SYSLOG_IDENT "keepwatchd"

/* [global] keys */
#define KW_KEY_POLL_INTERVAL "poll_interval"
#define KW_KEY_KILL_METHOD "kill_method"
#define KW_KEY_LOG "log"
#define KW_KEY_LOG_LEVEL "log_level"
#define KW_KEY_SYSLOG_FACILITY "syslog_facility"
#define KW_KEY_DRY_RUN "dry_run"
#define KW_KEY_MAX_KILLS "max_kills_per_second"
#define KW_KEY_NFT_TIMEOUT "nft_timeout"
#define KW_KEY_DISCOVERY_INTERVAL "discovery_interval"
#define KW_KEY_USER "user"
#define KW_KEY_METRICS_FILE "metrics_file"
#define KW_KEY_STATE_FILE "state_file"
#define KW_KEY_SOCKOPS "sockops"
#define KW_KEY_SOCKOPS_CGROUP "sockops_cgroup"
#define KW_KEY_SOCKOPS_RING "sockops_ring"
#define KW_KEY_WATCH_ROUTES "watch_routes"

/* [service NAME] keys */
#define KW_KEY_LOCAL_PORTS "local_ports"
#define KW_KEY_REMOTE_PORTS "remote_ports"
#define KW_KEY_LOCAL_NET "local_net"
#define KW_KEY_REMOTE_NET "remote_net"
#define KW_KEY_KEEPALIVE_PROBES "keepalive_probes"
#define KW_KEY_IDLE_TIMEOUT "idle_timeout"
#define KW_KEY_UNACKED_TIMEOUT "unacked_timeout"
#define KW_KEY_ON_LINK_LOSS "on_link_loss"
#define KW_KEY_LINK_GRACE "link_grace"
#define KW_KEY_ENFORCE_KEEPALIVE "enforce_keepalive"
#define KW_KEY_NETNS "netns"
#define KW_KEY_CGROUP "cgroup"

/* Defaults (durations in milliseconds). */
#define KW_DEF_POLL_INTERVAL_MS 200u
#define KW_DEF_DISCOVERY_INTERVAL_MS 1000u
#define KW_DEF_MAX_KILLS 1000u
#define KW_DEF_NFT_TIMEOUT_MS 120000u
#define KW_DEF_KEEPALIVE_PROBES 2u
#define KW_DEF_IDLE_TIMEOUT_MS 0u
#define KW_DEF_UNACKED_TIMEOUT_MS 0u
#define KW_DEF_LINK_GRACE_MS 0u
/* The connections whose keepalive keepwatchd changed, for --list; /run is gone at reboot,
 * as are the sockets. The unit's RuntimeDirectory=keepwatch makes the directory. */
#define KW_DEF_STATE_FILE "/run/keepwatch/keepwatchd.state"
#define KW_DEF_SOCKOPS_RING (2u << 20) /* bytes: ~20,000 records */
#define KW_DEF_WATCH_ROUTES true

/* Bounds that keep a typo from turning into a busy loop or a never-firing timer. */
#define KW_MIN_POLL_INTERVAL_MS 10u
#define KW_MAX_DURATION_MS (7ull * 24 * 3600 * 1000) /* one week */
#define KW_MAX_KEEPALIVE_PROBES 127u
#define KW_MAX_SERVICES 64u
#define KW_MAX_SELECTORS 64u /* entries per selector list */
#define KW_SERVICE_NAME_MAX 32u
#define KW_MIN_DISCOVERY_INTERVAL_MS 10u
#define KW_MIN_NFT_TIMEOUT_MS 1000u /* an element must outlive at least one keepalive probe */
#define KW_MIN_THRESHOLD_MS 200u /* idle/unacked below TCP's minimum RTO kill healthy peers */
#define KW_MAX_KILLS_LIMIT 1000000u
#define KW_USER_NAME_MAX 32u
#define KW_MAX_PATH_ITEMS 16u /* entries of netns = and cgroup = (globs cover the rest) */
#define KW_PATH_ITEM_MAX 256u /* bytes of one netns or cgroup item, NUL included */
#define KW_NETNS_DIR "/run/netns" /* where `ip netns` keeps the names */
#define KW_MIN_SOCKOPS_RING (16u << 10)
#define KW_MAX_SOCKOPS_RING (256u << 20)
#define KW_MAX_CONFIG_BYTES (1u << 20) /* a config file larger than this is refused */

#endif
