/* bench/variadic.py's C side: a variadic target and the plain C loops making the same calls
 * as the Python peers (through a volatile function pointer, so nothing is inlined or hoisted). */
#include <stdarg.h>
#include <stdio.h>
#include <stddef.h>

long va_sum(int n, ...)
{
    va_list ap;
    long s = 0;
    va_start(ap, n);
    for (int i = 0; i < n; i++)
        s += va_arg(ap, int);
    va_end(ap);
    return s;
}

typedef int snprintf_fn(char *, size_t, const char *, ...);
typedef long va_sum_fn(int, ...);

long c_loop_snprintf(long n, int i, double x)
{
    snprintf_fn *volatile f = snprintf;
    char buf[64];
    long total = 0;
    for (long k = 0; k < n; k++)
        total += f(buf, sizeof buf, "%d %f", i, x);
    return total;
}

long c_loop_va_sum(long n, int a, int b)
{
    va_sum_fn *volatile f = va_sum;
    long total = 0;
    for (long k = 0; k < n; k++)
        total += f(2, a, b);
    return total;
}
