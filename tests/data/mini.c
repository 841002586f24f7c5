/* Tiny C library for the independent spec tests (test_library, test_memory, test_threads,
 * test_leaks, test_errors, test_declarations).  Functions are named by signature. */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#define MINI_ID(T, N) T mini_id_##N(T x) { return x; }
MINI_ID(bool, bool)
MINI_ID(int8_t, i8)
MINI_ID(int16_t, i16)
MINI_ID(int32_t, i32)
MINI_ID(int64_t, i64)
MINI_ID(uint8_t, u8)
MINI_ID(uint16_t, u16)
MINI_ID(uint32_t, u32)
MINI_ID(uint64_t, u64)
MINI_ID(float, f32)
MINI_ID(double, f64)
MINI_ID(void *, pointer)
MINI_ID(const char *, string)

void mini_noop(void) {}

int32_t mini_add_i32(int32_t a, int32_t b) { return (int32_t)((uint32_t)a + (uint32_t)b); }

double mini_add_f64(double a, double b) { return a + b; }

/* Sum of n bytes at p: checks that a buffer argument points at the right bytes. */
int64_t mini_sum_u8(const uint8_t *p, size_t n)
{
    int64_t s = 0;
    for (size_t i = 0; i < n; i++) s += p[i];
    return s;
}

/* Writes v into n bytes at p (an out-buffer). */
void mini_fill_u8(uint8_t *p, size_t n, uint8_t v) { memset(p, v, n); }

/* Out-parameters of several types. */
void mini_out_i32(int32_t *out, int32_t v) { *out = v; }
void mini_out_f64(double *out, double v) { *out = v; }

typedef struct { double x, y; } MiniPoint;

MiniPoint mini_point_make(double x, double y) { MiniPoint p = {x, y}; return p; }
double mini_point_dot(MiniPoint p, MiniPoint q) { return p.x * q.x + p.y * q.y; }
void mini_point_scale(MiniPoint *p, double k) { p->x *= k; p->y *= k; }

/* Sleeps ms milliseconds, then returns value: a blocking call for the threading tests. */
int64_t mini_sleep_ms(int32_t ms, int64_t value)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
    return value;
}

/* Busy-waits ms milliseconds (touching its own code and data), then returns value. */
int64_t mini_spin_ms(int32_t ms, int64_t value)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    volatile uint64_t n = 0;
    do {
        for (int i = 0; i < 1000; i++) n++;
        clock_gettime(CLOCK_MONOTONIC, &t);
    } while ((t.tv_sec - t0.tv_sec) * 1000L + (t.tv_nsec - t0.tv_nsec) / 1000000L < ms);
    return value;
}

/* Sets errno to e and returns -1, like a failing libc call. */
int mini_fail_errno(int e) { errno = e; return -1; }

/* Returns errno as it is on entry (what set_errno() arranged for a use_errno call). */
int mini_get_errno(void) { return errno; }

/* Sets errno to e and returns a string: errno must be captured before the result is converted. */
const char *mini_fail_errno_str(int e) { errno = e; return "failed"; }
