/* SPDX-License-Identifier: BSD-2-Clause */
/*
* report_mail: gzip and MIME for authmilter-report. See
 * report_mail.h. RFC 9990 s.3.5.2 (file name, media type, Subject),
 * RFC 2045/2046 (MIME), RFC 1952 (gzip, through zlib).
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <zlib.h>

#include "report_mail.h"

struct am_report_gz {
	z_stream z;
	FILE *fp;
	int failed;
	unsigned char out[16384];
};

struct am_report_gz *
am_report_gz_new(struct am_buf *why)
{
	struct am_report_gz *g;

	if ((g = calloc(1, sizeof(*g))) == NULL) {
		am_buf_setf(why, "out of memory");
		return NULL;
	}
	if ((g->fp = tmpfile()) == NULL) {
		am_buf_setf(why, "temporary file: %s", strerror(errno));
		free(g);
		return NULL;
	}
	/* windowBits 15 + 16: a gzip (RFC 1952) header and trailer */
	if (deflateInit2(&g->z, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
	    Z_DEFAULT_STRATEGY) != Z_OK) {
		am_buf_setf(why, "zlib: deflateInit2 failed");
		fclose(g->fp);
		free(g);
		return NULL;
	}
	return g;
}

/* Run deflate with flush until it has no more output for now. */
static int
gz_pump(struct am_report_gz *g, int flush)
{
	size_t have;
	int rc;

	do {
		g->z.next_out = g->out;
		g->z.avail_out = sizeof(g->out);
		rc = deflate(&g->z, flush);
		if (rc == Z_STREAM_ERROR)
			return -1;
		have = sizeof(g->out) - g->z.avail_out;
		if (have > 0 && fwrite(g->out, 1, have, g->fp) != have)
			return -1;
	} while (g->z.avail_out == 0 || (flush == Z_FINISH && rc != Z_STREAM_END));
	return 0;
}

int
am_report_gz_write(void *arg, const void *p, size_t n)
{
	struct am_report_gz *g = arg;

	if (g->failed)
		return -1;
	g->z.next_in = (unsigned char *)(uintptr_t)p;
	g->z.avail_in = (uInt)n;
	if (gz_pump(g, Z_NO_FLUSH) != 0)
		g->failed = 1;
	return g->failed ? -1 : 0;
}

FILE *
am_report_gz_finish(struct am_report_gz *g, struct am_buf *why)
{
	g->z.next_in = NULL;
	g->z.avail_in = 0;
	if (g->failed || gz_pump(g, Z_FINISH) != 0 || fflush(g->fp) != 0) {
		am_buf_setf(why, "compressing the report failed");
		return NULL;
	}
	rewind(g->fp);
	return g->fp;
}

struct am_report_gz *
am_report_gz_free(struct am_report_gz *g)
{
	if (g == NULL)
		return NULL;
	deflateEnd(&g->z);
	fclose(g->fp);
	free(g);
	return NULL;
}

void
am_report_filename(const struct am_report_mail *m, struct am_buf *out)
{
	am_buf_printf(out, "%s!%s!%lld!%lld!%s.xml.gz", m->submitter, m->domain,
	    (long long)m->begin, (long long)m->end, m->report_id);
}

/* The gzip file as base64 lines of 76 characters (RFC 2045 s.6.8). */
static int
write_base64(FILE *gz, FILE *out)
{
	unsigned char in[57], b64[80];
	size_t n;
	int len;

	rewind(gz);
	while ((n = fread(in, 1, sizeof(in), gz)) > 0) {
		len = EVP_EncodeBlock(b64, in, (int)n);
		if (fwrite(b64, 1, (size_t)len, out) != (size_t)len ||
		    fputc('\n', out) == EOF)
			return -1;
	}
	return ferror(gz) ? -1 : 0;
}

int
am_report_mail_write(const struct am_report_mail *m, FILE *gz,
    const char *rcpt, FILE *out, struct am_buf *why)
{
	struct am_buf fname = AM_BUF_INIT(1024);
	char date[64], b[64], e[64];
	time_t t = (time_t)m->now, tb = (time_t)m->begin, te = (time_t)m->end;
	struct tm tm;
	int rc;

	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000",
	    gmtime_r(&t, &tm));
	strftime(b, sizeof(b), "%Y-%m-%d %H:%M:%S", gmtime_r(&tb, &tm));
	strftime(e, sizeof(e), "%Y-%m-%d %H:%M:%S", gmtime_r(&te, &tm));
	am_report_filename(m, &fname);
	fprintf(out, "From: %s\n", m->from);
	fprintf(out, "To: %s\n", rcpt);
	/* s.3.5.2 dmarc-subject, folded at its FWS */
	fprintf(out, "Subject: Report Domain: %s\n Submitter: %s\n"
	    " Report-ID: %s\n", m->domain, m->submitter, m->report_id);
	fprintf(out, "Date: %s\n", date);
	fprintf(out, "Message-ID: <%s@%s>\n", m->report_id, m->submitter);
	fprintf(out, "Auto-Submitted: auto-generated\n");
	fprintf(out, "MIME-Version: 1.0\n");
	fprintf(out, "Content-Type: multipart/mixed; boundary=\"=_am_%s\"\n\n",
	    m->report_id);
	fprintf(out, "--=_am_%s\nContent-Type: text/plain; charset=us-ascii\n\n"
	    "This is a DMARC aggregate report (RFC 9990) from %s\n"
	    "for %s, %s to %s UTC.\n\n", m->report_id, m->submitter,
	    m->domain, b, e);
	fprintf(out, "--=_am_%s\nContent-Type: application/gzip;\n"
	    " name=\"%s\"\nContent-Disposition: attachment;\n"
	    " filename=\"%s\"\nContent-Transfer-Encoding: base64\n\n",
	    m->report_id, am_buf_str(&fname), am_buf_str(&fname));
	rc = write_base64(gz, out);
	fprintf(out, "\n--=_am_%s--\n", m->report_id);
	am_buf_release(&fname);
	if (rc != 0 || fflush(out) != 0 || ferror(out)) {
		am_buf_setf(why, "writing the message failed");
		return -1;
	}
	return 0;
}

struct mail_arg {
	const struct am_report_mail *m;
	FILE *gz;
	const char *rcpt;
};

static int
mail_writer(void *arg, FILE *out, struct am_buf *why)
{
	struct mail_arg *a = arg;

	if (fseek(a->gz, 0, SEEK_SET) != 0) {
		am_buf_setf(why, "rewinding the report failed");
		return -1;
	}
	return am_report_mail_write(a->m, a->gz, a->rcpt, out, why);
}

int
am_report_mail_send(const struct am_report_transport *t,
    const struct am_report_mail *m, FILE *gz, const char *rcpt,
    struct am_buf *why)
{
	struct mail_arg a = { m, gz, rcpt };

	return am_report_deliver(t, m->from, rcpt, mail_writer, &a, why);
}
