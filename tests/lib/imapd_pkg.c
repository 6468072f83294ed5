/* tests/lib/imapd_pkg.c — the packaged servers of imapd.h: Cyrus IMAP 3.6
 * and Courier IMAP 5, run from the tree contrib/test-servers.sh unpacked.
 *
 * Cyrus, instance directory D:
 *   D/imapd.conf D/cyrus.conf   configuration (Debian's namespace settings:
 *                               altnamespace no, unixhierarchysep no)
 *   D/conf D/spool D/tmp D/sieve  configdirectory, partition, scratch
 *   D/sasldb2                   passwords (auxprop sasldb), admin "pbtadmin"
 *   D/run/master.pid D/log/     master -d with its log
 * master and every service get -C D/imapd.conf (children do not inherit it)
 * and run as nobody (cyrus_user). A user's INBOX is created at first login
 * (autocreate_quota 0); add_user logs in once.
 *
 * Courier, instance directory D:
 *   D/etc      seen as /etc/courier: authdaemonrc, userdb.dat, userdbshadow.dat
 *   D/run      seen as /run/courier (authdaemond's socket)
 *   D/ovl/etc/courier -> D/etc, D/ovl/run/courier -> D/run (overlay layers)
 *   D/mail/USER/Maildir   the mail, owned by nobody
 *   D/start.sh            run as `unshare -m`: read-only overlays put the
 *                         layers above on /etc, /run and /usr (the unpacked
 *                         tree's usr/ above the host's), then authdaemond
 *                         and couriertcpd start there.
 * Passwords are {SHA256} entries of userdb, rebuilt with makedatprog.
 */
#include "tests/lib/imapd_int.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "tests/lib/dovecot_int.h"
#include "tests/lib/net.h"
#include "tests/lib/proc.h"

#define START_TIMEOUT_MS 30000
#define ADMIN "pbtadmin"
#define ADMIN_PW "pbtadmin-Secret1"

/* Courier as Debian configures it (/etc/courier/imapd). */
static const char COURIER_CAPS[] = "IMAP4rev1 UIDPLUS CHILDREN NAMESPACE"
	" THREAD=ORDEREDSUBJECT THREAD=REFERENCES SORT QUOTA IDLE";

static int write_text(const char *path, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int write_text(const char *path, const char *fmt, ...)
{
	FILE *f = fopen(path, "we");
	if (f == NULL) {
		fprintf(stderr, "pbt_imapd: %s: %s\n", path, strerror(errno));
		return -1;
	}
	va_list ap;
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	if (fclose(f) != 0) {
		fprintf(stderr, "pbt_imapd: writing %s failed\n", path);
		return -1;
	}
	return 0;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Does port answer with an IMAP greeting? Quiet while the server starts. */
static int greets(int port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int ok = 0;
	if (fd < 0)
		return 0;
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		char buf[512];
		ssize_t n = poll(&p, 1, 5000) == 1 ? recv(fd, buf, sizeof(buf), 0) : 0;
		ok = n >= 4 && memcmp(buf, "* OK", 4) == 0;
		if (ok)
			(void)!write(fd, "z LOGOUT\r\n", 10);
	}
	close(fd);
	return ok;
}

static void show_file(const char *path)
{
	size_t len;
	FILE *f = fopen(path, "re");
	if (f == NULL)
		return;
	char buf[4096];
	len = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	fprintf(stderr, "---- %s\n%.*s----\n", path, (int)len, buf);
}

/* Wait for the greeting; the logs on failure. */
static int wait_ready(struct pbt_imapd *d, const char *log1, const char *log2)
{
	char path[400];
	for (int t = 0; t < START_TIMEOUT_MS; t += 50) {
		if (greets(d->imap_port))
			return 0;
		if (t > 3000 && pbt_imapd_signal_all(d->dir, 0) == 0)
			break;   /* nothing of the instance runs any more */
		sleep_ms(50);
	}
	fprintf(stderr, "pbt_imapd: %s in %s does not answer on port %d\n",
	    pbt_imapd_kind_name(d->kind), d->dir, d->imap_port);
	snprintf(path, sizeof(path), "%s/%s", d->dir, log1);
	show_file(path);
	snprintf(path, sizeof(path), "%s/%s", d->dir, log2);
	show_file(path);
	return -1;
}

static int mkdirs(struct pbt_imapd *d, const char *const *names, size_t n, int owned)
{
	char path[400];
	for (size_t i = 0; i < n; i++) {
		if (pbt_dc_path(path, sizeof(path), "%s/%s", d->dir, names[i]) < 0)
			return -1;
		if (owned ? pbt_dc_mkdir(path) < 0 : (mkdir(path, 0755) < 0 && errno != EEXIST)) {
			fprintf(stderr, "pbt_imapd: mkdir %s failed\n", path);
			return -1;
		}
		if (owned)
			chmod(path, 0755);
	}
	return 0;
}

/* Run a shell script (words after it are $1...) with stderr to D/log/cmd.err. */
static int run_sh(struct pbt_imapd *d, const char *script, const char *a1, const char *a2,
    const char *a3, const char *a4)
{
	char err[400], lib[700];
	snprintf(err, sizeof(err), "%s/log/cmd.err", d->dir);
	snprintf(lib, sizeof(lib), "LD_LIBRARY_PATH=%s/usr/lib/x86_64-linux-gnu:%s/usr/lib",
	    d->root, d->root);
	char *argv[] = { "env", lib, "/bin/sh", "-c", (char *)script, "sh", (char *)a1,
			 (char *)a2, (char *)a3, (char *)a4, NULL };
	if (pbt_run("pbt_imapd", argv, err) < 0) {
		show_file(err);
		return -1;
	}
	return 0;
}

/* ---- Cyrus ------------------------------------------------------------------------ */

static int cyrus_config(struct pbt_imapd *d, const char *hide)
{
	char path[400];
	const char *D = d->dir, *R = d->root;
	if (pbt_dc_path(path, sizeof(path), "%s/imapd.conf", D) < 0 ||
	    write_text(path,
	    "# Generated by tests/lib/imapd_pkg.c for one test run.\n"
	    "configdirectory: %s/conf\n"
	    "partition-default: %s/spool\n"
	    "temp_path: %s/tmp\n"
	    "sievedir: %s/sieve\n"
	    "admins: " ADMIN "\n"
	    "sasl_pwcheck_method: auxprop\n"
	    "sasl_auxprop_plugin: sasldb\n"
	    "sasl_sasldb_path: %s/sasldb2\n"
	    "sasl_mech_list: PLAIN LOGIN\n"
	    "allowplaintext: yes\n"
	    "autocreate_quota: 0\n"
	    "altnamespace: no\n"
	    "unixhierarchysep: no\n"
	    "cyrus_user: nobody\n"
	    "servername: localhost\n"
	    "syslog_prefix: %s\n"
	    "%s%s\n",
	    D, D, D, D, D, strrchr(D, '/') + 1, hide ? "suppress_capabilities: " : "",
	    hide ? hide : "") < 0)
		return -1;
	if (pbt_dc_path(path, sizeof(path), "%s/cyrus.conf", D) < 0)
		return -1;
	return write_text(path,
	    "START {\n"
	    "  recover cmd=\"%s/usr/lib/cyrus/bin/ctl_cyrusdb -C %s/imapd.conf -r\"\n"
	    "}\n"
	    "SERVICES {\n"
	    "  imap cmd=\"%s/usr/lib/cyrus/bin/imapd -C %s/imapd.conf\""
	    " listen=\"127.0.0.1:%d\" prefork=0 maxchild=200\n"
	    "}\n"
	    "EVENTS {\n}\n", R, D, R, D, d->imap_port);
}

static int saslpasswd(struct pbt_imapd *d, const char *user, const char *password)
{
	char bin[400], db[400];
	snprintf(bin, sizeof(bin), "%s/usr/sbin/saslpasswd2", d->root);
	snprintf(db, sizeof(db), "%s/sasldb2", d->dir);
	int fd = -1;
	char lock[400];
	snprintf(lock, sizeof(lock), "%s/sasldb2.lock", d->dir);
	fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd >= 0)
		flock(fd, LOCK_EX);
	int r = run_sh(d, "printf %s \"$1\" | \"$2\" -p -c -f \"$3\" -u localhost \"$4\"",
	    password, bin, db, user);
	if (r == 0)
		r = pbt_dc_own(db);
	if (fd >= 0)
		close(fd);
	return r;
}

int pbt_cyrus_start(struct pbt_imapd *d, const char *hide)
{
	static const char *const dirs[] = { "conf", "conf/socket", "spool", "tmp", "sieve",
					    "run", "log" };
	char conf[400], cconf[400], pid[400], log[400], lib[700], master[400], marker[300];
	if (chmod(d->dir, 0755) < 0 || mkdirs(d, dirs, sizeof(dirs) / sizeof(dirs[0]), 1) < 0 ||
	    mkdirs(d, (const char *const[]){ "pbt-users" }, 1, 0) < 0)
		return -1;
	if (saslpasswd(d, ADMIN, ADMIN_PW) < 0)
		return -1;
	snprintf(conf, sizeof(conf), "%s/imapd.conf", d->dir);
	snprintf(cconf, sizeof(cconf), "%s/cyrus.conf", d->dir);
	snprintf(pid, sizeof(pid), "%s/run/master.pid", d->dir);
	snprintf(log, sizeof(log), "%s/log/master.log", d->dir);
	snprintf(master, sizeof(master), "%s/usr/lib/cyrus/bin/master", d->root);
	snprintf(lib, sizeof(lib), "LD_LIBRARY_PATH=%s/usr/lib/x86_64-linux-gnu:%s/usr/lib",
	    d->root, d->root);
	snprintf(marker, sizeof(marker), PBT_IMAPD_MARKER "=%s", d->dir);
	for (int attempt = 0; attempt < 3; attempt++) {
		d->imap_port = pbt_free_port();
		if (d->imap_port <= 0 || cyrus_config(d, hide) < 0)
			return -1;
		char *argv[] = { "env", marker, lib, master, "-C", conf, "-M", cconf, "-p", pid,
				 "-d", "-L", log, NULL };
		if (pbt_run("pbt_imapd", argv, log) == 0 &&
		    wait_ready(d, "log/master.log", "log/cmd.err") == 0)
			return 0;
		pbt_imapd_stop_processes(d->dir);
	}
	return -1;
}

int pbt_cyrus_add_user(struct pbt_imapd *d, const char *user, const char *password)
{
	struct pbt_imapc c;
	if (saslpasswd(d, user, password) < 0)
		return -1;
	/* The first login creates the INBOX. */
	if (pbt_imapc_login(&c, d->imap_port, user, password) < 0)
		return -1;
	pbt_imapc_close(&c);
	return 0;
}

struct saved_msg {
	char folder[300];
	char flags[200];
	char *data;
	size_t len;
};

/* The mailbox name at the end of a LIST response, unquoted. */
static void list_name(const char *line, char *out, size_t len)
{
	const char *p = strrchr(line, ')');
	p = p ? p + 1 : line;
	while (*p == ' ')
		p++;
	/* the delimiter: "." or NIL */
	if (*p == '"')
		p = strchr(p + 1, '"') + 1;
	else
		p = strchr(p, ' ');
	while (p && *p == ' ')
		p++;
	snprintf(out, len, "%s", p ? p : "");
	if (out[0] == '"') {
		memmove(out, out + 1, strlen(out));
		char *q = strrchr(out, '"');
		if (q)
			*q = '\0';
	}
}

/* The FLAGS of a FETCH response, \Recent left out. */
static void fetch_flags(const char *line, char *out, size_t len)
{
	out[0] = '\0';
	const char *p = strstr(line, "FLAGS (");
	if (p == NULL)
		return;
	p += 7;
	const char *e = strchr(p, ')');
	size_t n = 0;
	char copy[400];
	snprintf(copy, sizeof(copy), "%.*s", e ? (int)(e - p) : 0, p);
	for (char *s, *w = strtok_r(copy, " ", &s); w; w = strtok_r(NULL, " ", &s))
		if (strcasecmp(w, "\\Recent") != 0)
			n += (size_t)snprintf(out + n, len - n, "%s%s", n ? " " : "", w);
}

static int save_user(struct pbt_imapd *d, const char *user, struct saved_msg **msgs,
    size_t *nmsgs, char (*folders)[300], size_t *nfolders, size_t maxf)
{
	struct pbt_imapc c;
	struct pbt_imapc_resps list = { 0 };
	if (pbt_imapd_login(d, &c, user) < 0)
		return -1;
	int r = pbt_imapc_cmd(&c, &list, "LIST \"\" \"*\"");
	*nfolders = 0;
	for (size_t i = 0; r == 0 && i < list.n && *nfolders < maxf; i++)
		list_name(list.v[i].line, folders[(*nfolders)++], 300);
	pbt_imapc_resps_free(&list);
	for (size_t f = 0; r == 0 && f < *nfolders; f++) {
		struct pbt_imapc_resps sel = { 0 }, fet = { 0 };
		long exists = 0;
		r = pbt_imapc_cmd(&c, &sel, "SELECT \"%s\"", folders[f]);
		for (size_t i = 0; i < sel.n; i++)
			if (strstr(sel.v[i].line, " EXISTS"))
				exists = strtol(sel.v[i].line + 2, NULL, 10);
		pbt_imapc_resps_free(&sel);
		if (r == 0 && exists > 0)
			r = pbt_imapc_cmd(&c, &fet, "UID FETCH 1:* (FLAGS BODY.PEEK[])");
		for (size_t i = 0; r == 0 && i < fet.n; i++) {
			if (fet.v[i].lit == NULL)
				continue;
			struct saved_msg *m = realloc(*msgs, (*nmsgs + 1) * sizeof(*m));
			if (m == NULL)
				abort();
			*msgs = m;
			m = &(*msgs)[(*nmsgs)++];
			memcpy(m->folder, folders[f], sizeof(m->folder));
			fetch_flags(fet.v[i].line, m->flags, sizeof(m->flags));
			m->data = fet.v[i].lit;
			m->len = fet.v[i].litlen;
			fet.v[i].lit = NULL;
		}
		pbt_imapc_resps_free(&fet);
	}
	pbt_imapc_close(&c);
	return r;
}

int pbt_cyrus_renumber(struct pbt_imapd *d, const char *user)
{
	struct saved_msg *msgs = NULL;
	size_t nmsgs = 0, nfolders = 0;
	char folders[64][300];
	struct pbt_imapc c;
	int r = save_user(d, user, &msgs, &nmsgs, folders, &nfolders, 64);
	if (r == 0)
		r = pbt_imapc_login(&c, d->imap_port, ADMIN, ADMIN_PW);
	if (r == 0) {
		/* Admins may delete any mailbox once they hold the x right. */
		pbt_imapc_cmd(&c, NULL, "SETACL \"user.%s\" " ADMIN " lrswipkxtecda", user);
		r = pbt_imapc_cmd(&c, NULL, "DELETE \"user.%s\"", user);
		pbt_imapc_close(&c);
	}
	if (r == 0)
		r = pbt_imapd_login(d, &c, user);   /* re-creates the INBOX */
	if (r == 0) {
		for (size_t f = 0; r == 0 && f < nfolders; f++)
			if (strcasecmp(folders[f], "INBOX") != 0)
				r = pbt_imapc_cmd(&c, NULL, "CREATE \"%s\"", folders[f]);
		for (size_t i = 0; r == 0 && i < nmsgs; i++)
			r = pbt_imapc_append(&c, msgs[i].folder, msgs[i].flags, msgs[i].data,
			    msgs[i].len);
		pbt_imapc_close(&c);
	}
	for (size_t i = 0; i < nmsgs; i++)
		free(msgs[i].data);
	free(msgs);
	return r;
}

/* ---- Courier ---------------------------------------------------------------------- */

int pbt_courier_start(struct pbt_imapd *d, const char *hide)
{
	static const char *const dirs[] = { "etc", "run", "run/authdaemon", "ovl", "ovl/etc",
					    "ovl/run", "log", "pbt-users" };
	char path[400], target[400], caps[600], marker[300], script[400], err[400];
	const char *D = d->dir, *R = d->root;
	if (chmod(D, 0755) < 0 || mkdirs(d, dirs, sizeof(dirs) / sizeof(dirs[0]), 0) < 0)
		return -1;
	if (pbt_dc_path(path, sizeof(path), "%s/mail", D) < 0 || pbt_dc_mkdir(path) < 0 ||
	    chmod(path, 0755) < 0)
		return -1;
	static const char *const links[][2] = { { "ovl/etc/courier", "etc" },
						{ "ovl/run/courier", "run" } };
	for (size_t i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%s", D, links[i][0]);
		snprintf(target, sizeof(target), "%s/%s", D, links[i][1]);
		if (symlink(target, path) < 0) {
			fprintf(stderr, "pbt_imapd: symlink %s: %s\n", path, strerror(errno));
			return -1;
		}
	}
	snprintf(path, sizeof(path), "%s/etc/authdaemonrc", D);
	if (write_text(path, "authmodulelist=\"authuserdb\"\ndaemons=3\n"
	    "authdaemonvar=/run/courier/authdaemon\nDEBUG_LOGIN=0\nDEFAULTOPTIONS=\"\"\n") < 0)
		return -1;
	/* Empty userdb files until the first user. */
	if (pbt_courier_add_user(d, NULL, NULL) < 0)
		return -1;
	if (pbt_imapd_without(COURIER_CAPS, hide, caps, sizeof(caps)) < 0)
		return -1;
	snprintf(script, sizeof(script), "%s/start.sh", D);
	snprintf(marker, sizeof(marker), PBT_IMAPD_MARKER "=%s", D);
	snprintf(err, sizeof(err), "%s/log/start.err", D);
	for (int attempt = 0; attempt < 3; attempt++) {
		d->imap_port = pbt_free_port();
		if (d->imap_port <= 0 || write_text(script,
		    "# Generated by tests/lib/imapd_pkg.c; runs in a private mount namespace.\n"
		    "set -e\n"
		    "mount --make-rprivate /\n"
		    "mount -t overlay pbt-courier -o lowerdir=%s/ovl/etc:/etc /etc\n"
		    "mount -t overlay pbt-courier -o lowerdir=%s/ovl/run:/run /run\n"
		    "mount -t overlay pbt-courier -o lowerdir=%s/usr:/usr /usr\n"
		    "export LD_LIBRARY_PATH=/usr/lib:/usr/lib/courier-authlib\n"
		    "/usr/lib/courier/courier-authlib/authdaemond >>%s/log/authdaemond.log 2>&1 &\n"
		    "export IMAP_CAPABILITY='%s'\n"
		    "export IMAP_KEYWORDS=1 IMAP_ACL=1 IMAP_IDLE_TIMEOUT=60"
		    " IMAP_MAILBOX_SANITY_CHECK=1 IMAP_USELOCKS=1 IMAP_ENHANCEDIDLE=0"
		    " IMAP_TRASHFOLDERNAME=Trash IMAP_EMPTYTRASH=Trash:7"
		    " IMAP_MOVE_EXPUNGE_TO_TRASH=0 IMAP_UMASK=022 IMAP_ULIMITD=131072\n"
		    "exec /usr/sbin/couriertcpd -address=127.0.0.1 -maxprocs=200 -maxperip=200"
		    " -nodnslookup -noidentlookup -stderr=%s/log/imapd.log %d"
		    " /usr/lib/courier/courier/imaplogin /usr/bin/imapd Maildir\n",
		    D, D, R, D, caps, D, d->imap_port) < 0)
			return -1;
		char *argv[] = { "setsid", "-f", "env", marker, "unshare", "-m", "/bin/sh", script,
				 NULL };
		if (pbt_run("pbt_imapd", argv, err) == 0 &&
		    wait_ready(d, "log/start.err", "log/authdaemond.log") == 0)
			return 0;
		pbt_imapd_stop_processes(D);
	}
	return -1;
}

/* userdb entries: one file per user in D/etc/users/, rebuilt into the .dat
 * files under a lock. user NULL: just (re)build. */
int pbt_courier_add_user(struct pbt_imapd *d, const char *user, const char *password)
{
	char path[400], lock[400];
	uid_t uid;
	gid_t gid;
	pbt_dc_mail_owner(&uid, &gid);
	snprintf(path, sizeof(path), "%s/etc/users", d->dir);
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return -1;
	if (user) {
		unsigned char md[EVP_MAX_MD_SIZE];
		unsigned mdlen = 0;
		unsigned char b64[128];
		EVP_Digest(password, strlen(password), md, &mdlen, EVP_sha256(), NULL);
		EVP_EncodeBlock(b64, md, (int)mdlen);
		char home[300], sub[450];
		if (pbt_dc_path(home, sizeof(home), "%s/mail/%s", d->dir, user) < 0 ||
		    pbt_dc_path(path, sizeof(path), "%s/Maildir", home) < 0 ||
		    pbt_dc_mkdir(home) < 0 || pbt_dc_mkdir(path) < 0)
			return -1;
		for (int i = 0; i < 3; i++) {
			snprintf(sub, sizeof(sub), "%s/%s", path, (const char *[]){ "cur", "new",
			    "tmp" }[i]);
			if (pbt_dc_mkdir(sub) < 0)
				return -1;
		}
		snprintf(path, sizeof(path), "%s/etc/users/%s", d->dir, user);
		if (write_text(path, "%s\tuid=%d|gid=%d|home=%s|mail=%s/Maildir|_=\n"
		    "%s\tsystempw={SHA256}%s\n", user, (int)uid, (int)gid, home, home, user,
		    (char *)b64) < 0)
			return -1;
	}
	snprintf(lock, sizeof(lock), "%s/etc/users.lock", d->dir);
	int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || flock(fd, LOCK_EX) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	char prog[400];
	snprintf(prog, sizeof(prog), "%s/usr/lib/courier/courier-authlib/makedatprog", d->root);
	int r = run_sh(d,
	    "cd \"$2\" && { cat users/* 2>/dev/null | grep -v systempw; echo .; }"
	    " | \"$1\" - userdb.tmp userdb.dat &&"
	    " { cat users/* 2>/dev/null | grep systempw; echo .; }"
	    " | \"$1\" - userdbshadow.tmp userdbshadow.dat",
	    prog, (snprintf(path, sizeof(path), "%s/etc", d->dir), path), NULL, NULL);
	close(fd);
	return r;
}

int pbt_courier_renumber(struct pbt_imapd *d, const char *user, const char *folder)
{
	char dir[400], name[300], path[500];
	if (strcasecmp(folder, "INBOX") == 0)
		snprintf(dir, sizeof(dir), "%s/mail/%s/Maildir", d->dir, user);
	else if (pbt_imapd_folder(d, folder, name, sizeof(name)) == NULL ||
	    pbt_dc_path(dir, sizeof(dir), "%s/mail/%s/Maildir/%s", d->dir, user, name + 5) < 0)
		return -1;
	if (pbt_dc_path(path, sizeof(path), "%s/courierimapuiddb", dir) < 0)
		return -1;
	/* A new UIDVALIDITY is the time of the next SELECT: never the second
	 * the old one was made in (at most the file's mtime). */
	struct stat st;
	if (stat(path, &st) == 0)
		while (time(NULL) <= st.st_mtime)
			sleep_ms(50);
	if (unlink(path) < 0 && errno != ENOENT) {
		fprintf(stderr, "pbt_imapd: %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}
