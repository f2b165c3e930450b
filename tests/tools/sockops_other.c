/* keepwatch test tool: "another tool's" sock_ops program — a few raw instructions that count
 * their callbacks in an array map — attached to a cgroup the test made, the way another tool
 * would: multi (a bpf_link), exclusive (no flags) or override (BPF_F_ALLOW_OVERRIDE).
 *
 * sockops_other multi|exclusive|override CGROUP_DIR
 * Prints "attached id=N mode=M", then "count=N" each time the count moved (every 100 ms at
 * most); on SIGTERM detaches, prints the last count and exits 0. Exit 77: built without the
 * hook's libbpf. (A program attached without a link stays when its loader dies: the test's
 * cgroup, removed by its trap, takes it along.) */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef KW_TOOL_BPF
#include <bpf/bpf.h>
#include <linux/bpf.h>

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

/* count[0] += 1; return 1; */
static int load(int map_fd)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ST | BPF_MEM | BPF_W, .dst_reg = BPF_REG_10, .off = -4, .imm = 0 },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_X, .dst_reg = BPF_REG_2, .src_reg = BPF_REG_10 },
		{ .code = BPF_ALU64 | BPF_ADD | BPF_K, .dst_reg = BPF_REG_2, .imm = -4 },
		{ .code = BPF_LD | BPF_DW | BPF_IMM,
		  .dst_reg = BPF_REG_1,
		  .src_reg = BPF_PSEUDO_MAP_FD,
		  .imm = map_fd },
		{ 0 },
		{ .code = BPF_JMP | BPF_CALL, .imm = BPF_FUNC_map_lookup_elem },
		{ .code = BPF_JMP | BPF_JEQ | BPF_K, .dst_reg = BPF_REG_0, .off = 2, .imm = 0 },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_1, .imm = 1 },
		{ .code = BPF_STX | BPF_DW | BPF_ATOMIC,
		  .dst_reg = BPF_REG_0,
		  .src_reg = BPF_REG_1,
		  .imm = BPF_ADD },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 1 },
		{ .code = BPF_JMP | BPF_EXIT },
	};

	return bpf_prog_load(BPF_PROG_TYPE_SOCK_OPS, "kwt_other", "GPL", insns,
			     sizeof(insns) / sizeof(insns[0]), NULL);
}

int main(int argc, char **argv)
{
	struct bpf_prog_info info;
	uint32_t len = sizeof(info), key = 0;
	uint64_t count = 0, said = UINT64_MAX;
	int map_fd, prog_fd, cg_fd, link_fd = -1, err;
	const char *mode = argc == 3 ? argv[1] : "";

	if (argc != 3 ||
	    (strcmp(mode, "multi") && strcmp(mode, "exclusive") && strcmp(mode, "override"))) {
		fprintf(stderr, "usage: sockops_other multi|exclusive|override CGROUP_DIR\n");
		return 2;
	}
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	map_fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "kwt_other", 4, 8, 1, NULL);
	prog_fd = map_fd >= 0 ? load(map_fd) : -1;
	cg_fd = open(argv[2], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (map_fd < 0 || prog_fd < 0 || cg_fd < 0) {
		fprintf(stderr, "sockops_other: %s\n", strerror(errno));
		return 1;
	}
	if (!strcmp(mode, "multi"))
		err = link_fd = bpf_link_create(prog_fd, cg_fd, BPF_CGROUP_SOCK_OPS, NULL);
	else
		err = bpf_prog_attach(prog_fd, cg_fd, BPF_CGROUP_SOCK_OPS,
				      !strcmp(mode, "override") ? BPF_F_ALLOW_OVERRIDE : 0);
	if (err < 0) {
		fprintf(stderr, "sockops_other: attaching %s at %s: %s\n", mode, argv[2],
			strerror(errno));
		return 1;
	}
	memset(&info, 0, sizeof(info));
	bpf_obj_get_info_by_fd(prog_fd, &info, &len);
	printf("attached id=%u mode=%s\n", info.id, mode);
	fflush(stdout);
	for (int i = 0; !stop && i < 6000; i++) { /* at most 10 minutes */
		struct timespec ts = { 0, 100 * 1000 * 1000 };

		if (bpf_map_lookup_elem(map_fd, &key, &count) == 0 && count != said) {
			printf("count=%llu\n", (unsigned long long)count);
			fflush(stdout);
			said = count;
		}
		nanosleep(&ts, NULL);
	}
	if (link_fd < 0)
		bpf_prog_detach2(prog_fd, cg_fd, BPF_CGROUP_SOCK_OPS);
	bpf_map_lookup_elem(map_fd, &key, &count);
	printf("count=%llu\ndetached\n", (unsigned long long)count);
	return 0;
}
#else
int main(void)
{
	fprintf(stderr, "sockops_other: built without libbpf (KEEPWATCH_BPF)\n");
	return 77;
}
#endif
