/*
 * C loops that call a callback: what every peer's callback is measured from
 * (bench/callbacks.py).  Built by bench/build.py into
 * libfastffi_bench_callbacks.so; each peer calls these through its own FFI
 * (the hand-written floor through ctypes: one outer call per loop, so the
 * outer call's cost is spread over n invocations and, under callgrind,
 * cancels out of the difference of two loop lengths).
 *
 * The callbacks' arguments vary with i so that no peer can answer from a
 * cache, and the results are summed so the loop cannot be dropped.
 */
#include <pthread.h>
#include <stddef.h>

typedef long (*long_cb)(long);
typedef double (*double_cb)(double, double);

long cb_loop_long(long_cb cb, long n)
{
    long sum = 0;
    for (long i = 0; i < n; i++)
        sum += cb(i);
    return sum;
}

double cb_loop_double(double_cb cb, long n)
{
    double sum = 0.0;
    for (long i = 0; i < n; i++)
        sum += cb((double)i, 0.5);
    return sum;
}

/* The same loops run by one thread C creates (never seen by Python before
 * its first callback): the caller must have released the GIL, or the
 * callbacks would wait for it while the caller waits in pthread_join. */
struct job {
    void *cb;
    long n;
    int is_double;
    long long_sum;
    double double_sum;
};

static void *run_job(void *arg)
{
    struct job *j = arg;
    if (j->is_double)
        j->double_sum = cb_loop_double((double_cb)j->cb, j->n);
    else
        j->long_sum = cb_loop_long((long_cb)j->cb, j->n);
    return NULL;
}

/* 0, or -1 when the thread could not be made or joined: the drivers then
 * return -1 / -1.0, a sum no loop here gives (the benchmark's callbacks
 * return positive values), so the harness's result check fails loudly. */
static int run_in_thread(struct job *j)
{
    pthread_t t;
    if (pthread_create(&t, NULL, run_job, j) != 0)
        return -1;
    return pthread_join(t, NULL) != 0 ? -1 : 0;
}

long cb_thread_long(long_cb cb, long n)
{
    struct job j = {(void *)cb, n, 0, 0, 0.0};
    return run_in_thread(&j) < 0 ? -1 : j.long_sum;
}

double cb_thread_double(double_cb cb, long n)
{
    struct job j = {(void *)cb, n, 1, 0, 0.0};
    return run_in_thread(&j) < 0 ? -1.0 : j.double_sum;
}
