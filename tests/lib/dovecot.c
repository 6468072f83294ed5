/* tests/lib/dovecot.c — life cycle of a private Dovecot instance: directory,
 * certificate, config, master start/stop, the watchdog. See dovecot.h.
 *
 * Layout of an instance directory D (mode 0755, so the mail user can reach
 * its Maildirs when we run as root):
 *   D/dovecot.conf  D/server.crt  D/server.key  D/users/USER (passwd-files)
 *   D/run (base_dir)  D/state (state_dir)  D/log/dovecot.log  D/log/start.err
 *   D/mail/USER/Maildir            INBOX, Maildir++ (".Folder" subdirectories)
 * instance_name is D's basename, so the instance's processes show up in ps
 * as "dovecot-pbt-dovecot.XXXXXX/imap" and can be told apart from any other Dovecot.
 *
 * The watchdog is a forked process in its own session that blocks reading a
 * pipe whose only writer is the test process (close-on-exec). EOF — a normal
 * pbt_dovecot_stop(), or the test dying in any way, SIGKILL included — makes
 * it stop every process of the instance and remove D. That is the one
 * cleanup path; pbt_dovecot_stop() just closes the pipe and waits for it.
 */
#include "tests/lib/dovecot_int.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/lib/cert.h"
#include "tests/lib/net.h"
#include "tests/lib/proc.h"

#define START_TIMEOUT_MS 30000
#define STOP_TIMEOUT_MS 15000
/* The unprivileged account mail processes run as when we are root: present
 * on every Debian system, so a fresh machine needs no useradd. */
#define MAIL_USER_AS_ROOT "nobody"

int pbt_dc_path(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= len) {
		fprintf(stderr, "pbt_dovecot: path too long (%s)\n", fmt);
		return -1;
	}
	return 0;
}

void pbt_dc_mail_owner(uid_t *uid, gid_t *gid)
{
	if (geteuid() != 0) {
		*uid = geteuid();
		*gid = getegid();
		return;
	}
	struct passwd *pw = getpwnam(MAIL_USER_AS_ROOT);
	*uid = pw ? pw->pw_uid : 65534;
	*gid = pw ? pw->pw_gid : 65534;
}

int pbt_dc_own(const char *path)
{
	if (geteuid() != 0)
		return 0;
	uid_t uid;
	gid_t gid;
	pbt_dc_mail_owner(&uid, &gid);
	if (lchown(path, uid, gid) < 0) {
		fprintf(stderr, "pbt_dovecot: chown %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

int pbt_dc_mkdir(const char *path)
{
	if (mkdir(path, 0700) < 0 && errno != EEXIST) {
		fprintf(stderr, "pbt_dovecot: mkdir %s: %s\n", path, strerror(errno));
		return -1;
	}
	return pbt_dc_own(path);
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Read /proc/PID/cmdline (NULs turned into spaces) into buf; 0 or -1. */
static int proc_cmdline(pid_t pid, char *buf, size_t len)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0)
		return -1;
	for (ssize_t i = 0; i < n; i++)
		if (buf[i] == '\0')
			buf[i] = ' ';
	buf[n] = '\0';
	return 0;
}

/* Is pid the master of the instance in dir (its command line names our config)? */
static int is_our_master(pid_t pid, const char *dir)
{
	char cmd[1024], conf[300];
	if (pid <= 0 || pbt_dc_path(conf, sizeof(conf), "%s/dovecot.conf", dir) < 0)
		return 0;
	return proc_cmdline(pid, cmd, sizeof(cmd)) == 0 && strstr(cmd, conf) != NULL;
}

static pid_t read_master_pid(const char *dir)
{
	char path[300], buf[32];
	if (pbt_dc_path(path, sizeof(path), "%s/run/master.pid", dir) < 0)
		return -1;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	long pid = strtol(buf, NULL, 10);
	return pid > 0 ? (pid_t)pid : -1;
}

/* Send sig to every process of the instance; how many there were. */
static int signal_instance(const char *instance, int sig)
{
	DIR *dp = opendir("/proc");
	if (dp == NULL)
		return 0;
	size_t ilen = strlen(instance);
	int count = 0;
	struct dirent *de;
	while ((de = readdir(dp)) != NULL) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		pid_t pid = (pid_t)atol(de->d_name);
		char cmd[512];
		if (proc_cmdline(pid, cmd, sizeof(cmd)) < 0)
			continue;
		/* Titles are "INSTANCE/service" or "dovecot-INSTANCE/service". */
		const char *t = strncmp(cmd, "dovecot-", 8) == 0 ? cmd + 8 : cmd;
		if (strncmp(t, instance, ilen) == 0 && t[ilen] == '/') {
			kill(pid, sig);
			count++;
		}
	}
	closedir(dp);
	return count;
}

int pbt_dc_stop_processes(const char *dir)
{
	const char *instance = strrchr(dir, '/');
	instance = instance ? instance + 1 : dir;
	pid_t master = read_master_pid(dir);
	if (is_our_master(master, dir)) {
		kill(master, SIGTERM);
		for (int t = 0; is_our_master(master, dir); t += 20) {
			if (t >= STOP_TIMEOUT_MS) {
				fprintf(stderr, "pbt_dovecot: master %d ignores SIGTERM; killing it\n",
				    (int)master);
				kill(master, SIGKILL);
			}
			sleep_ms(20);
		}
	}
	/* Stragglers (a login or mail process the master did not wait for). */
	for (int t = 0; signal_instance(instance, t < 2000 ? SIGTERM : SIGKILL) > 0; t += 20) {
		if (t >= STOP_TIMEOUT_MS) {
			fprintf(stderr, "pbt_dovecot: processes of %s survive SIGKILL\n", instance);
			return -1;
		}
		sleep_ms(20);
	}
	char path[300];
	if (pbt_dc_path(path, sizeof(path), "%s/run/master.pid", dir) == 0)
		unlink(path);
	return 0;
}

/* Print the tail of a log file to stderr (for start failures). */
static void show_log(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	off_t end = lseek(fd, 0, SEEK_END);
	if (end > 4096)
		lseek(fd, end - 4096, SEEK_SET);
	else
		lseek(fd, 0, SEEK_SET);
	char buf[4096];
	ssize_t n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n > 0) {
		fprintf(stderr, "---- %s\n", path);
		fwrite(buf, 1, (size_t)n, stderr);
		fprintf(stderr, "----\n");
	}
}

static void show_logs(const struct pbt_dovecot *d)
{
	char path[300];
	if (pbt_dc_path(path, sizeof(path), "%s/log/start.err", d->dir) == 0)
		show_log(path);
	if (pbt_dc_path(path, sizeof(path), "%s/log/dovecot.log", d->dir) == 0)
		show_log(path);
}

/* Does port answer with a greeting starting with `want`? Quiet: refused
 * connections are normal while the master starts. */
static int answers(int port, const char *want)
{
	struct sockaddr_in sin;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	int ok = 0;
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		char buf[512];
		ssize_t n = 0;
		if (poll(&p, 1, 2000) == 1)
			n = recv(fd, buf, sizeof(buf) - 1, 0);
		ok = n >= (ssize_t)strlen(want) && memcmp(buf, want, strlen(want)) == 0;
	}
	close(fd);
	return ok;
}

static int wait_ready(struct pbt_dovecot *d)
{
	for (int t = 0; t < START_TIMEOUT_MS; t += 50) {
		pid_t m = read_master_pid(d->dir);
		int alive = is_our_master(m, d->dir);
		if (t > 2000 && !alive)
			return -1;
		if (alive && answers(d->imap_port, "* OK") && answers(d->pop3_port, "+OK")) {
			d->master_pid = m;
			return 0;
		}
		sleep_ms(50);
	}
	return -1;
}

int pbt_dc_start_master(struct pbt_dovecot *d)
{
	char conf[300], errlog[300];
	if (pbt_dc_path(conf, sizeof(conf), "%s/dovecot.conf", d->dir) < 0 ||
	    pbt_dc_path(errlog, sizeof(errlog), "%s/log/start.err", d->dir) < 0)
		return -1;
	/* The master daemonizes; no pipe of the caller may stay open in it. */
	char bin[] = "/usr/sbin/dovecot", opt[] = "-c";
	/* bin + 10 is the bare name "dovecot", looked up in PATH */
	char *argv[] = { access(bin, X_OK) == 0 ? bin : bin + 10, opt, conf, NULL };
	if (pbt_run("pbt_dovecot", argv, errlog) < 0) {
		show_logs(d);
		return -1;
	}
	if (wait_ready(d) < 0) {
		fprintf(stderr, "pbt_dovecot: instance in %s did not answer on ports %d/%d\n",
		    d->dir, d->imap_port, d->pop3_port);
		show_logs(d);
		return -1;
	}
	return 0;
}

/* ---- configuration -------------------------------------------------------- */

static int write_config(const struct pbt_dovecot *d, const char *extra)
{
	char conf[300];
	if (pbt_dc_path(conf, sizeof(conf), "%s/dovecot.conf", d->dir) < 0)
		return -1;
	FILE *f = fopen(conf, "we");
	if (f == NULL) {
		fprintf(stderr, "pbt_dovecot: %s: %s\n", conf, strerror(errno));
		return -1;
	}
	const char *instance = strrchr(d->dir, '/') + 1;
	uid_t uid;
	gid_t gid;
	pbt_dc_mail_owner(&uid, &gid);
	const char *iuser = "dovecot", *igroup = "dovecot", *luser = "dovenull";
	const char *chroot_line = "";
	if (geteuid() != 0) {
		/* Non-root: every process runs as us; no chroot is possible. */
		struct passwd *pw = getpwuid(uid);
		struct group *gr = getgrgid(gid);
		if (pw == NULL || gr == NULL) {
			fprintf(stderr, "pbt_dovecot: uid %d has no passwd/group entry\n", (int)uid);
			fclose(f);
			return -1;
		}
		iuser = pw->pw_name;
		igroup = gr->gr_name;
		luser = pw->pw_name;
		chroot_line = "  chroot =\n";
	}
	fprintf(f,
	    "# Generated by tests/lib/dovecot.c for one test run.\n"
	    "instance_name = %s\n"
	    "base_dir = %s/run\n"
	    "state_dir = %s/state\n"
	    "log_path = %s/log/dovecot.log\n"
	    "info_log_path = %s/log/dovecot.log\n"
	    "protocols = imap pop3\n"
	    "listen = 127.0.0.1\n"
	    "shutdown_clients = yes\n"
	    "default_internal_user = %s\n"
	    "default_internal_group = %s\n"
	    "default_login_user = %s\n"
	    "default_process_limit = 500\n"
	    "default_client_limit = 4000\n"
	    "first_valid_uid = 1\n"
	    "first_valid_gid = 1\n"
	    "ssl = yes\n"
	    "ssl_cert = <%s/server.crt\n"
	    "ssl_key = <%s/server.key\n"
	    "disable_plaintext_auth = no\n"
	    "auth_mechanisms = plain login\n"
	    "auth_failure_delay = 0\n"
	    "auth_cache_size = 0\n"
	    "mail_max_userip_connections = 1000\n"
	    "mail_location = maildir:~/Maildir\n"
	    "passdb {\n"
	    "  driver = passwd-file\n"
	    "  args = scheme=PLAIN username_format=%%u %s/users/%%u\n"
	    "}\n"
	    "userdb {\n"
	    "  driver = static\n"
	    "  args = uid=%d gid=%d home=%s/mail/%%u\n"
	    "}\n"
	    "namespace inbox {\n"
	    "  inbox = yes\n"
	    "  separator = /\n"
	    "  mailbox Trash {\n    special_use = \\Trash\n    auto = no\n  }\n"
	    "  mailbox Archive {\n    special_use = \\Archive\n    auto = no\n  }\n"
	    "  mailbox Sent {\n    special_use = \\Sent\n    auto = no\n  }\n"
	    "  mailbox Drafts {\n    special_use = \\Drafts\n    auto = no\n  }\n"
	    "  mailbox Junk {\n    special_use = \\Junk\n    auto = no\n  }\n"
	    "}\n"
	    "service imap-login {\n"
	    "%s"
	    "  inet_listener imap {\n    port = %d\n  }\n"
	    "  inet_listener imaps {\n    port = %d\n    ssl = yes\n  }\n"
	    "}\n"
	    "service pop3-login {\n"
	    "%s"
	    "  inet_listener pop3 {\n    port = %d\n  }\n"
	    "  inet_listener pop3s {\n    port = %d\n    ssl = yes\n  }\n"
	    "}\n"
	    "service imap-urlauth-login {\n%s}\n"
	    "service anvil {\n"
	    "%s"
	    "  unix_listener anvil-auth-penalty {\n    mode = 0\n  }\n"
	    "}\n"
	    /* run/auth-smtp: the SASL socket a private Postfix checks its
	     * submission logins against (tests/lib/pbpostfix.py). */
	    "service auth {\n"
	    "  unix_listener auth-smtp {\n    mode = 0666\n  }\n"
	    "}\n",
	    instance, d->dir, d->dir, d->dir, d->dir, iuser, igroup, luser, d->dir, d->dir,
	    d->dir, (int)uid, (int)gid, d->dir, chroot_line, d->imap_port, d->imaps_port,
	    chroot_line, d->pop3_port, d->pop3s_port, chroot_line, chroot_line);
	if (geteuid() != 0)
		fprintf(f, "service auth-worker {\n  user = %s\n}\n", iuser);
	if (extra != NULL)
		fprintf(f, "# extra settings of this test\n%s\n", extra);
	if (fclose(f) != 0) {
		fprintf(stderr, "pbt_dovecot: writing %s failed\n", conf);
		return -1;
	}
	return 0;
}

static int forbidden_port(int p)
{
	return p <= 0 || p == 110 || p == 143 || p == 993 || p == 995;
}

static int pick_ports(struct pbt_dovecot *d)
{
	int ports[4];
	for (int i = 0; i < 4; i++) {
		int tries = 0;
		for (;;) {
			ports[i] = pbt_free_port();
			int dup = 0;
			for (int j = 0; j < i; j++)
				dup |= ports[j] == ports[i];
			if (!dup && !forbidden_port(ports[i]))
				break;
			if (++tries > 50)
				return -1;
		}
	}
	d->imap_port = ports[0];
	d->imaps_port = ports[1];
	d->pop3_port = ports[2];
	d->pop3s_port = ports[3];
	return 0;
}

/* The write end of each instance's watchdog pipe, found by watchdog pid. */
#define MAX_INSTANCES 64
static struct {
	pid_t watchdog;
	int fd;
} g_pipes[MAX_INSTANCES];

static int remember_pipe(pid_t watchdog, int fd)
{
	for (int i = 0; i < MAX_INSTANCES; i++) {
		if (g_pipes[i].watchdog == 0) {
			g_pipes[i].watchdog = watchdog;
			g_pipes[i].fd = fd;
			return 0;
		}
	}
	fprintf(stderr, "pbt_dovecot: more than %d instances\n", MAX_INSTANCES);
	return -1;
}

static int forget_pipe(pid_t watchdog)
{
	for (int i = 0; i < MAX_INSTANCES; i++) {
		if (g_pipes[i].watchdog == watchdog) {
			int fd = g_pipes[i].fd;
			g_pipes[i].watchdog = 0;
			g_pipes[i].fd = -1;
			return fd;
		}
	}
	return -1;
}

/* ---- start / stop ----------------------------------------------------------- */

/* As root, mail processes run as MAIL_USER_AS_ROOT and must be able to walk
 * down to D: every directory above it must be searchable by others. */
static int reachable_by_mail_user(const char *dir)
{
	char path[256];
	snprintf(path, sizeof(path), "%s", dir);
	for (char *slash = strrchr(path, '/'); slash != NULL && slash != path;
	     slash = strrchr(path, '/')) {
		*slash = '\0';
		struct stat st;
		if (stat(path, &st) < 0 || !(st.st_mode & S_IXOTH)) {
			fprintf(stderr, "pbt_dovecot: %s is not searchable by the mail user %s; "
			    "set TMPDIR to a directory that is (e.g. /tmp)\n", path,
			    MAIL_USER_AS_ROOT);
			return 0;
		}
	}
	return 1;
}

static int make_tree(struct pbt_dovecot *d)
{
	char path[300], key[300];
	if (chmod(d->dir, 0755) < 0) {
		perror("pbt_dovecot: chmod");
		return -1;
	}
	if (geteuid() == 0 && !reachable_by_mail_user(d->dir))
		return -1;
	/* users/: the passdb files, read by the auth process (the internal user as root) */
	static const char *const plain_dirs[] = { "run", "state", "log", "users" };
	for (size_t i = 0; i < sizeof(plain_dirs) / sizeof(plain_dirs[0]); i++) {
		if (pbt_dc_path(path, sizeof(path), "%s/%s", d->dir, plain_dirs[i]) < 0)
			return -1;
		if (mkdir(path, 0755) < 0) {
			fprintf(stderr, "pbt_dovecot: mkdir %s: %s\n", path, strerror(errno));
			return -1;
		}
	}
	if (pbt_dc_path(path, sizeof(path), "%s/mail", d->dir) < 0 || pbt_dc_mkdir(path) < 0)
		return -1;
	if (pbt_make_cert(d->dir, "server", d->ca_file, sizeof(d->ca_file), key, sizeof(key)) < 0)
		return -1;
	return 0;
}

struct pbt_dovecot *pbt_dovecot_start(void)
{
	return pbt_dovecot_start_with(NULL);
}

/* The oauth2 passdb of pbt_dovecot_start_oauth2: its args file D/oauth2.conf.ext
 * (readable by the auth process) and the settings that use it, in *conf
 * (malloc'd, extra appended). */
static int oauth2_config(const struct pbt_dovecot *d, const char *url, const char *mechs,
    const char *extra, char **conf)
{
	char path[300];
	if (pbt_dc_path(path, sizeof(path), "%s/oauth2.conf.ext", d->dir) < 0)
		return -1;
	FILE *f = fopen(path, "we");
	if (f == NULL) {
		fprintf(stderr, "pbt_dovecot: %s: %s\n", path, strerror(errno));
		return -1;
	}
	fprintf(f, "introspection_url = %s\n"
	    "introspection_mode = post\n"
	    "force_introspection = yes\n"
	    "tokeninfo_url =\n"
	    "username_attribute = username\n"
	    "active_attribute = active\n"
	    "active_value = true\n"
	    "timeout_msecs = 10000\n", url);
	if (fclose(f) != 0 || chmod(path, 0644) < 0) {
		fprintf(stderr, "pbt_dovecot: writing %s failed\n", path);
		return -1;
	}
	if (asprintf(conf, "auth_mechanisms = plain login %s\n"
	    "passdb {\n  driver = oauth2\n  mechanisms = %s\n  args = %s\n}\n%s",
	    mechs, mechs, path, extra ? extra : "") < 0) {
		*conf = NULL;
		return -1;
	}
	return 0;
}

static struct pbt_dovecot *start_instance(const char *extra_config, const char *oauth2_url,
    const char *oauth2_mechs)
{
	char *conf = NULL;
	struct pbt_dovecot *d = calloc(1, sizeof(*d));
	if (d == NULL)
		return NULL;
	if (pbt_mkdtemp("pbt-dovecot", d->dir, sizeof(d->dir)) < 0) {
		free(d);
		return NULL;
	}
	int wfd;
	if (pbt_watchdog_start("pbt_dovecot", d->dir, pbt_dc_stop_processes, &d->watchdog_pid,
	    &wfd) < 0) {
		pbt_rmtree(d->dir);
		free(d);
		return NULL;
	}
	if (remember_pipe(d->watchdog_pid, wfd) < 0) {
		close(wfd);
		waitpid(d->watchdog_pid, NULL, 0);
		free(d);
		return NULL;
	}
	if (make_tree(d) < 0)
		goto fail;
	if (oauth2_url != NULL) {
		if (oauth2_config(d, oauth2_url, oauth2_mechs, extra_config, &conf) < 0)
			goto fail;
		extra_config = conf;
	}
	/* A port picked as free can be taken before Dovecot binds it: retry. */
	for (int attempt = 0;; attempt++) {
		if (pick_ports(d) < 0 || write_config(d, extra_config) < 0)
			goto fail;
		if (pbt_dc_start_master(d) == 0) {
			free(conf);
			return d;
		}
		pbt_dc_stop_processes(d->dir);
		if (attempt == 2)
			goto fail;
		fprintf(stderr, "pbt_dovecot: retrying with other ports\n");
	}
fail:
	fprintf(stderr, "pbt_dovecot: start failed\n");
	free(conf);
	pbt_dovecot_stop(d);
	return NULL;
}

struct pbt_dovecot *pbt_dovecot_start_with(const char *extra_config)
{
	return start_instance(extra_config, NULL, NULL);
}

struct pbt_dovecot *pbt_dovecot_start_oauth2(const char *introspection_url,
    const char *mechanisms, const char *extra_config)
{
	return start_instance(extra_config, introspection_url, mechanisms);
}

void pbt_dovecot_stop(struct pbt_dovecot *d)
{
	if (d == NULL)
		return;
	pbt_watchdog_stop(d->watchdog_pid, forget_pipe(d->watchdog_pid), d->dir,
	    pbt_dc_stop_processes);
	free(d);
}

int pbt_dovecot_pause(struct pbt_dovecot *d)
{
	int r = pbt_dc_stop_processes(d->dir);
	d->master_pid = 0;
	return r;
}

int pbt_dovecot_resume(struct pbt_dovecot *d)
{
	if (is_our_master(read_master_pid(d->dir), d->dir)) {
		fprintf(stderr, "pbt_dovecot_resume: already running\n");
		return -1;
	}
	return pbt_dc_start_master(d);
}
