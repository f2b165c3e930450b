/* keepwatch: internal to config.c — the line reader it feeds inih through, which keeps exact
 * line numbers and hands section headers, key ends and dropped lines back to the loader. */
#ifndef KEEPWATCH_CONFIG_READ_H
#define KEEPWATCH_CONFIG_READ_H

#include <ctype.h>
#include <stdbool.h>
#include <stddef.h>

enum config_line_kind {
	CONFIG_LINE_OTHER,
	CONFIG_LINE_KEY,
	CONFIG_LINE_CONT
};

/* What the reader tells the loader; ctx is the loader. Called in file order, before inih
 * sees the line concerned. */
struct config_read_ops {
	/* A line is refused: msg says why (the line is rd->lineno, no key). */
	void (*error)(void *ctx, const char *msg);
	/* A key line or a section header comes: the key read before it is complete. */
	void (*key_done)(void *ctx);
	/* A section header: p..end from '[' on, trailing blanks gone. */
	void (*section)(void *ctx, const char *p, const char *end);
	/* A key or continuation line too long for inih was dropped (after error): the key it
	 * belongs to is refused, its continuation lines ignored. */
	void (*dropped)(void *ctx);
};

struct config_reader {
	const char *buf;
	size_t len, off;
	unsigned lineno; /* of the line last read: inih's handler runs for that line */
	enum config_line_kind kind; /* of the line last handed to inih */
	bool in_key; /* mirrors inih's prev_name: an indented line continues that key */
	const struct config_read_ops *ops;
	void *ctx;
};

void config_read_init(struct config_reader *rd, const char *buf, size_t len,
		      const struct config_read_ops *ops, void *ctx);
/* inih's ini_reader: stream is a struct config_reader. */
char *config_read_line(char *str, int num, void *stream);
/* The whole file into *buf (at most KW_MAX_CONFIG_BYTES; the caller frees it). Returns 0,
 * -errno or -EFBIG. */
int config_read_file(const char *path, char **buf, size_t *len);

static inline const char *config_read_lskip(const char *p, const char *end)
{
	while (p < end && isspace((unsigned char)*p))
		p++;
	return p;
}

static inline const char *config_read_rskip(const char *start, const char *end)
{
	while (end > start && isspace((unsigned char)end[-1]))
		end--;
	return end;
}

#endif
