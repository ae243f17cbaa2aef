/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libFuzzer target for the configuration parser (lib/config.c): the input
 * is written to a temporary file and read by am_config_load(), as
 * `authmilter -n` would read it (every option type: durations, numbers,
 * booleans, enums, paths, sockets, CIDR and host lists, DNS servers). The
 * loader reads no file but the one it is given (it names key and PSL
 * files, it does not open them), so nothing else is touched. A file that
 * loads is written back with am_config_dump(), and that text must load
 * again to the same dump. Run by run_fuzz.sh.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[256];

static void
remove_file(void)
{
	if (path[0] != '\0')
		unlink(path);
}

/* Replace the file's content with p[0..n). */
static void
put(const void *p, size_t n)
{
	FILE *fp;

	if ((fp = fopen(path, "w")) == NULL ||
	    fwrite(p, 1, n, fp) != n || fclose(fp) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct am_buf why = AM_BUF_INIT(1024), d1 = AM_BUF_INIT(1 << 20),
	    d2 = AM_BUF_INIT(1 << 20);
	struct am_config *c;
	const char *tmp;
	int fd;

	if (path[0] == '\0') {
		tmp = getenv("TMPDIR");
		snprintf(path, sizeof(path), "%s/fuzz_config.XXXXXX",
		    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
		if ((fd = mkstemp(path)) < 0)
			abort();
		close(fd);
		atexit(remove_file);
	}
	put(data, size);
	if ((c = am_config_load(path, &why)) != NULL) {
		am_config_dump(c, &d1);
		c = am_config_free(c);
		put(am_buf_str(&d1), strlen(am_buf_str(&d1)));
		if ((c = am_config_load(path, &why)) == NULL) {
			fprintf(stderr, "dump does not load: %s\n%s\n",
			    am_buf_str(&why), am_buf_str(&d1));
			__builtin_trap();
		}
		am_config_dump(c, &d2);
		if (strcmp(am_buf_str(&d1), am_buf_str(&d2)) != 0) {
			fprintf(stderr, "dump changed:\n%s\n---\n%s\n",
			    am_buf_str(&d1), am_buf_str(&d2));
			__builtin_trap();
		}
		am_config_free(c);
	}
	am_buf_release(&why);
	am_buf_release(&d1);
	am_buf_release(&d2);
	return 0;
}
