/* Reports what this machine shows of three things fastffi's JIT tier relies on, so a log says
 * whether the tests of them can be trusted here or must use their hooks:
 *   seccomp   can a process install a seccomp filter (tests deny executable memory with one)?
 *   PROT_EXEC does jumping into a page mapped without PROT_EXEC fault, also after the page
 *             ran as code and was made read-write again?
 *   icache    does code rewritten in place without a cache flush still run the old code?
 * Measured under Debian bookworm's qemu-user-static 7.2: seccomp refused (EINVAL), PROT_EXEC
 * enforced, never stale (qemu notices writes to code it translated). On real hardware: installed,
 * enforced, maybe stale. Always exits 0: it only reports. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__aarch64__)
/* mov w0, #imm16 ; ret */
static size_t emit_return(unsigned char *p, unsigned imm)
{
    uint32_t code[2] = { 0x52800000u | (imm << 5), 0xd65f03c0u };
    memcpy(p, code, sizeof code);
    return sizeof code;
}
#elif defined(__x86_64__)
/* mov eax, imm32 ; ret */
static size_t emit_return(unsigned char *p, unsigned imm)
{
    p[0] = 0xb8;
    memcpy(p + 1, &imm, 4);
    p[5] = 0xc3;
    return 6;
}
#else
#error "emulation_probe.c knows only aarch64 and x86_64"
#endif

typedef int (*fn_t)(void);
static sigjmp_buf jump_back;
static void on_fault(int sig) { siglongjmp(jump_back, sig); }

static void probe_seccomp(void)
{
    pid_t pid = fork();
    if (pid == 0) {
        struct sock_filter allow_all[] = { BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW) };
        struct sock_fprog prog = { 1, allow_all };
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
            _exit(100 + errno);
        if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0)
            _exit(errno);
        _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (code == 0)
        printf("seccomp:   a filter was installed\n");
    else
        printf("seccomp:   refused (%s)\n", code > 0 && code < 100 ? strerror(code) : "no_new_privs failed");
}

static void probe_prot_exec(void)
{
    long page = sysconf(_SC_PAGESIZE);
    unsigned char *p = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        printf("PROT_EXEC: mmap failed (%s)\n", strerror(errno));
        return;
    }
    emit_return(p, 42);
    struct sigaction sa, old_segv, old_bus;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_fault;
    sigaction(SIGSEGV, &sa, &old_segv);
    sigaction(SIGBUS, &sa, &old_bus);
    int sig = sigsetjmp(jump_back, 1);
    if (sig == 0) {
        int r = ((fn_t)(void *)p)();
        printf("PROT_EXEC: NOT enforced (code in a read-write page ran, returned %d)\n", r);
    } else {
        printf("PROT_EXEC: enforced (signal %d on a jump into a read-write page)\n", sig);
    }
    sigaction(SIGSEGV, &old_segv, NULL);
    sigaction(SIGBUS, &old_bus, NULL);

    /* The W^X path the JIT uses: write while RW, then flip to RX and run. */
    emit_return(p, 7);
    __builtin___clear_cache((char *)p, (char *)p + page);
    if (mprotect(p, page, PROT_READ | PROT_EXEC) != 0)
        printf("W^X:       mprotect to RX failed (%s)\n", strerror(errno));
    else
        printf("W^X:       RW -> RX flip ran the code, returned %d\n", ((fn_t)(void *)p)());

    /* Code that already ran, then made non-executable again: a jump into it must fault. */
    mprotect(p, page, PROT_READ | PROT_WRITE);
    sigaction(SIGSEGV, &sa, &old_segv);
    sigaction(SIGBUS, &sa, &old_bus);
    sig = sigsetjmp(jump_back, 1);
    if (sig == 0) {
        int r = ((fn_t)(void *)p)();
        printf("revoked:   NOT enforced (code that ran before ran again after mprotect RW, returned %d)\n", r);
    } else {
        printf("revoked:   enforced (signal %d on a jump into code made read-write again)\n", sig);
    }
    sigaction(SIGSEGV, &old_segv, NULL);
    sigaction(SIGBUS, &old_bus, NULL);
    munmap(p, page);
}

static void probe_icache(void)
{
    long page = sysconf(_SC_PAGESIZE);
    unsigned char *p = mmap(NULL, page, PROT_READ | PROT_WRITE | PROT_EXEC,
                            MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        printf("icache:    no RWX mapping allowed (%s), not probed\n", strerror(errno));
        return;
    }
    emit_return(p, 1);
    __builtin___clear_cache((char *)p, (char *)p + page);
    int first = ((fn_t)(void *)p)();
    emit_return(p, 2);                 /* deliberately no cache flush */
    int second = ((fn_t)(void *)p)();
    printf("icache:    rewritten code without a flush returned %d (%s)\n", second,
           second == 2 ? "new code: incoherence not shown here" : "stale code: incoherence visible");
    (void)first;
    munmap(p, page);
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    probe_seccomp();
    probe_prot_exec();
    probe_icache();
    return 0;
}
