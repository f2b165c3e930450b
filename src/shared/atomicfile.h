/* keepwatch: a file others read while it is rewritten — written as NAME.tmp in the same
 * directory, opened once through a directory descriptor, then renamed over NAME. */
#ifndef KEEPWATCH_ATOMICFILE_H
#define KEEPWATCH_ATOMICFILE_H

#include <stdbool.h>
#include <stdio.h>

/* path's directory, opened (O_DIRECTORY); with create, made first (mode 0755) when only
 * it is missing. Returns the descriptor or -errno. */
int atomicfile_dir(const char *path, bool create);
/* The file name part of path. */
const char *atomicfile_base(const char *path);
/* Writes base in dirfd through fill (0 or -errno), mode 0644 whatever the umask (readers
 * run as other users): never a half-written file under that name. 0 or -errno. */
int atomicfile_write(int dirfd, const char *base, int (*fill)(FILE *f, void *arg), void *arg);

#endif
