/* keepwatch: the physical-line reader config.c feeds inih through: line counting, section
 * headers, indented keys and continuations, NUL bytes and lines too long for inih.
 *
 * Debian's inih is built without INI_HANDLER_LINENO, so the handler cannot be told the line.
 * This reader counts physical lines, so when inih calls the handler the line just read is the
 * one being handled. It also sees every section header (inih does not report them), strips
 * leading blanks from key lines so an indented key is a key and not inih's multi-line
 * continuation, and passes indented lines without '=' through as continuations, which lists
 * use to span lines. Inline comments end a value where ';' or '#' follows a blank, in key
 * and continuation lines alike (inih itself would take only ';', and only in key lines).
 * And the file read into memory whole (config_read_file). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_read.h"
#include "config/defaults.h"

void config_read_init(struct config_reader *rd, const char *buf, size_t len,
		      const struct config_read_ops *ops, void *ctx)
{
	*rd = (struct config_reader){ .buf = buf, .len = len, .ops = ops, .ctx = ctx };
}

/* Where an inline comment starts in from..end (';' or '#' after a blank), or end. */
static const char *rd_comment(const char *from, const char *end)
{
	for (const char *c = from + 1; c < end; c++)
		if ((*c == ';' || *c == '#') && isspace((unsigned char)c[-1]))
			return c;
	return end;
}

/* Hands inih the text from..end, after prefix, as one line, if it fits inih's buffer. */
static char *rd_emit(struct config_reader *rd, char *str, int num, const char *prefix,
		     const char *from, const char *end)
{
	size_t n = (size_t)(end - from), pre = strlen(prefix);
	char msg[160];

	if (pre + n + 2 > (size_t)num) {
		snprintf(msg, sizeof(msg),
			 "line too long (at most %d characters besides leading blanks); "
			 "continue a long list on indented lines",
			 num - 2 - (int)pre);
		rd->ops->error(rd->ctx, msg);
		rd->kind = CONFIG_LINE_OTHER;
		rd->ops->dropped(rd->ctx);
		return str;
	}
	memcpy(str, prefix, pre);
	memcpy(str + pre, from, n);
	str[pre + n] = '\n';
	str[pre + n + 1] = '\0';
	return str;
}

char *config_read_line(char *str, int num, void *stream)
{
	struct config_reader *rd = stream;
	const char *line, *nl, *end, *p;
	size_t n;

	if (rd->off >= rd->len || num < 8)
		return NULL;
	line = rd->buf + rd->off;
	nl = memchr(line, '\n', rd->len - rd->off);
	n = nl ? (size_t)(nl - line) : rd->len - rd->off;
	rd->off += n + (nl != NULL);
	rd->lineno++;
	rd->kind = CONFIG_LINE_OTHER;
	memcpy(str, "\n", 2); /* what inih gets for anything it must not see */
	end = line + n;
	if (rd->lineno == 1 && n >= 3 && memcmp(line, "\xef\xbb\xbf", 3) == 0)
		line += 3;
	if (memchr(line, '\0', (size_t)(end - line))) {
		rd->ops->error(rd->ctx, "line contains a NUL byte");
		return str;
	}
	end = config_read_rskip(line, end);
	p = config_read_lskip(line, end);
	if (p == end || *p == ';' || *p == '#')
		return str;
	if (*p == '[') {
		rd->ops->key_done(rd->ctx);
		rd->in_key = false;
		rd->ops->section(rd->ctx, p, end);
		/* resets inih's section state; the loader keeps the real one */
		memcpy(str, "[s]\n", 5);
		return str;
	}
	if (!memchr(p, '=', (size_t)(end - p))) {
		if (p > line && rd->in_key) {
			end = config_read_rskip(p, rd_comment(p, end));
			rd->kind = CONFIG_LINE_CONT;
			return rd_emit(rd, str, num, " ", p, end);
		}
		rd->ops->error(rd->ctx, "expected 'key = value', a [section] or a comment");
		return str;
	}
	rd->ops->key_done(rd->ctx);
	rd->kind = CONFIG_LINE_KEY;
	rd->in_key = true;
	end = config_read_rskip(p, rd_comment(memchr(p, '=', (size_t)(end - p)), end));
	return rd_emit(rd, str, num, "", p, end);
}

int config_read_file(const char *path, char **buf, size_t *len)
{
	FILE *f = fopen(path, "re");
	int rc = 0;

	*buf = NULL;
	if (!f)
		return -errno;
	*buf = malloc(KW_MAX_CONFIG_BYTES + 1);
	if (!*buf) {
		rc = -ENOMEM;
		goto out;
	}
	errno = 0;
	*len = fread(*buf, 1, KW_MAX_CONFIG_BYTES + 1, f);
	if (ferror(f))
		rc = errno ? -errno : -EIO;
	else if (*len > KW_MAX_CONFIG_BYTES)
		rc = -EFBIG;
out:
	fclose(f);
	return rc;
}
