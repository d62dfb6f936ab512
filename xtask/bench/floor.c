/* The kernel work of an `acrun run` pod start and nothing else: a lower bound for any runtime
   on this machine (BENCHMARKS.md, pod start). Written for the benchmark, not a runtime: no
   error recovery beyond exiting 254.

   floor [--bare] LOWER BASE
   The parent makes BASE/<pid>/{upper,work,merged} and clones into new PID, mount, IPC, UTS and
   network namespaces. The child brings `lo` up, mounts a volatile overlay over LOWER, /proc, a
   tmpfs /dev with six device nodes, devpts, /dev/shm, the /dev symlinks, a console bind, a
   read-only /sys, acrun's masks and read-only /proc paths, and pivots into it. Then, as acrun
   does, it stays PID 1 and forks the app, which drops the capabilities outside appc's default
   set, sets no_new_privs and installs a 45-call deny-list seccomp filter before exec'ing /true;
   PID 1 reaps it and exits with its code. With --bare, PID 1 execs /true itself with none of
   that (crun's shape). Nothing is removed: the caller deletes BASE afterwards. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

static void die(const char *what) { perror(what); _exit(254); }

static const char *masked[] = {"/proc/acpi", "/proc/asound", "/proc/config.gz",
  "/proc/kallsyms", "/proc/kcore", "/proc/keys", "/proc/kmem", "/proc/latency_stats",
  "/proc/mem", "/proc/sched_debug", "/proc/scsi", "/proc/timer_list", "/proc/timer_stats",
  "/sys/firmware", "/sys/hypervisor", "/sys/module", "/sys/power", 0};
static const char *read_only[] = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
  "/proc/sysrq-trigger", 0};
static const int denied[] = {SYS_acct, SYS_add_key, SYS_bpf, SYS_clock_adjtime,
  SYS_clock_settime, SYS_delete_module, SYS_finit_module, SYS_fsconfig, SYS_fsmount, SYS_fsopen,
  SYS_fspick, SYS_init_module, SYS_kcmp, SYS_kexec_file_load, SYS_kexec_load, SYS_keyctl,
  SYS_lookup_dcookie, SYS_mount, SYS_move_mount, SYS_name_to_handle_at, SYS_nfsservctl,
  SYS_open_by_handle_at, SYS_open_tree, SYS_perf_event_open, SYS_personality, SYS_pivot_root,
  SYS_process_vm_readv, SYS_process_vm_writev, SYS_ptrace, SYS_quotactl, SYS_reboot,
  SYS_request_key, SYS_setns, SYS_settimeofday, SYS_swapon, SYS_swapoff, SYS_syslog,
  SYS_umount2, SYS_unshare, SYS_userfaultfd, SYS_vhangup, SYS_iopl, SYS_ioperm, SYS_create_module,
  SYS_uselib};
static const int kept_caps[] = {CAP_AUDIT_WRITE, CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FSETID,
  CAP_FOWNER, CAP_KILL, CAP_MKNOD, CAP_NET_RAW, CAP_NET_BIND_SERVICE, CAP_SETUID, CAP_SETGID,
  CAP_SETPCAP, CAP_SETFCAP, CAP_SYS_CHROOT};

static void lo_up(void) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  struct ifreq ifr = {0};
  strcpy(ifr.ifr_name, "lo");
  if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0) die("lo");
  ifr.ifr_flags |= IFF_UP;
  if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) die("lo up");
  close(s);
}

static void app_view(const char *lower, const char *dir) {
  char opts[4096], merged[4096], path[4200];
  snprintf(opts, sizeof opts, "lowerdir=%s,upperdir=%s/upper,workdir=%s/work,volatile", lower,
           dir, dir);
  snprintf(merged, sizeof merged, "%s/merged", dir);
  if (mount(0, "/", 0, MS_REC | MS_PRIVATE, 0)) die("make private");
  if (mount("overlay", merged, "overlay", 0, opts)) die("overlay");
  if (chdir(merged)) die("chdir");
  mkdir("proc", 0755), mkdir("dev", 0755), mkdir("sys", 0755);
  if (mount("proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, 0)) die("proc");
  if (mount("tmpfs", "dev", "tmpfs", MS_NOSUID, "mode=755,size=65536k")) die("/dev");
  static const struct { const char *path; int major, minor; } nodes[] = {{"dev/null", 1, 3},
    {"dev/zero", 1, 5}, {"dev/full", 1, 7}, {"dev/random", 1, 8}, {"dev/urandom", 1, 9},
    {"dev/tty", 5, 0}};
  for (int i = 0; i < 6; i++)
    if (mknod(nodes[i].path, S_IFCHR | 0666, makedev(nodes[i].major, nodes[i].minor)))
      die("mknod");
  mkdir("dev/pts", 0755), mkdir("dev/shm", 01777);
  if (mount("devpts", "dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
            "newinstance,ptmxmode=0666,mode=620"))
    die("devpts");
  if (mount("tmpfs", "dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
            "mode=1777,size=65536k"))
    die("/dev/shm");
  symlink("pts/ptmx", "dev/ptmx"), symlink("/proc/self/fd", "dev/fd");
  symlink("/proc/self/fd/0", "dev/stdin"), symlink("/proc/self/fd/1", "dev/stdout");
  symlink("/proc/self/fd/2", "dev/stderr");
  int console = open("dev/console", O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
  if (console < 0) die("console");
  close(console);
  if (mount("dev/null", "dev/console", 0, MS_BIND, 0)) die("console");
  if (mount("sysfs", "sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, 0))
    die("/sys");
  for (int i = 0; masked[i]; i++) {
    struct stat st;
    snprintf(path, sizeof path, ".%s", masked[i]);
    if (stat(path, &st)) continue;
    if (S_ISDIR(st.st_mode)
            ? mount("tmpfs", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                    "size=0,mode=000")
            : mount("dev/null", path, 0, MS_BIND, 0))
      die("mask");
  }
  for (int i = 0; read_only[i]; i++) {
    snprintf(path, sizeof path, ".%s", read_only[i]);
    if (access(path, F_OK)) continue;
    if (mount(path, path, 0, MS_BIND | MS_REC, 0)) die("read-only bind");
    if (mount(0, path, 0, MS_REMOUNT | MS_BIND | MS_RDONLY, 0)) die("read-only");
  }
  if (syscall(SYS_pivot_root, ".", ".")) die("pivot_root");
  if (umount2(".", MNT_DETACH)) die("detach the old root");
  if (chdir("/")) die("chdir /");
}

static void confine(void) {
  for (int c = 0; c <= CAP_LAST_CAP; c++) {
    int keep = 0;
    for (size_t k = 0; k < sizeof kept_caps / sizeof *kept_caps; k++) keep |= kept_caps[k] == c;
    if (!keep && prctl(PR_CAPBSET_DROP, c, 0, 0, 0)) die("drop a bounding capability");
  }
  struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct d[2] = {{0}};
  for (size_t k = 0; k < sizeof kept_caps / sizeof *kept_caps; k++) {
    d[kept_caps[k] / 32].effective |= 1u << (kept_caps[k] % 32);
    d[kept_caps[k] / 32].permitted |= 1u << (kept_caps[k] % 32);
  }
  if (syscall(SYS_capset, &h, d)) die("capset");
  enum { N = sizeof denied / sizeof *denied };
  struct sock_filter f[4 + 2 * N + 1];
  int n = 0;
  f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
  f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0);
  f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
  f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
  for (int i = 0; i < N; i++) {
    f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, denied[i], 0, 1);
    f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | 1);
  }
  f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
  struct sock_fprog prog = {(unsigned short)n, f};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) die("no_new_privs");
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog)) die("seccomp");
}

static int pod(const char *lower, const char *dir, int bare) {
  char *argv[] = {"/true", 0}, *envp[] = {"PATH=/usr/bin:/bin", 0};
  lo_up();
  app_view(lower, dir);
  if (bare) {
    execve("/true", argv, envp);
    die("exec /true");
  }
  pid_t app = fork();
  if (app < 0) die("fork the app");
  if (app == 0) {
    confine();
    execve("/true", argv, envp);
    die("exec /true");
  }
  int st;
  if (waitpid(app, &st, 0) < 0) die("wait for the app");
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int main(int argc, char **argv) {
  int bare = argc > 1 && !strcmp(argv[1], "--bare");
  if (argc != 3 + bare) {
    fprintf(stderr, "usage: floor [--bare] LOWER BASE\n");
    return 2;
  }
  const char *lower = argv[1 + bare], *base = argv[2 + bare];
  char dir[4096], sub[4200];
  snprintf(dir, sizeof dir, "%s/%d", base, (int)getpid());
  if (mkdir(dir, 0700)) die(dir);
  const char *subs[] = {"upper", "work", "merged"};
  for (int i = 0; i < 3; i++) {
    snprintf(sub, sizeof sub, "%s/%s", dir, subs[i]);
    if (mkdir(sub, 0755)) die(sub);
  }
  pid_t pid = syscall(SYS_clone, CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS |
                                     CLONE_NEWNET | SIGCHLD, 0, 0, 0, 0);
  if (pid < 0) die("clone");
  if (pid == 0) _exit(pod(lower, dir, bare));
  int st;
  if (waitpid(pid, &st, 0) < 0) die("wait");
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
