/*
 * The C functions the benchmarks call (strlen comes from libc).
 *
 * Compiled by build.py into its own shared library, so every peer -- the
 * hand-written extension included -- reaches them through a real call that
 * the compiler cannot inline or fold away.  The bodies do trivial work on
 * purpose: the benchmarks measure the cost of getting into and out of C.
 *
 * build.py also force-includes a header generated from cases.py, so a
 * prototype there that disagrees with a definition here fails the build.
 */
#include <stddef.h>
#include <stdint.h>

struct Vec3 {
    double x, y, z;
};

void noop(void)
{
}

int32_t add_i32(int32_t a, int32_t b)
{
    /* Unsigned arithmetic: wraps instead of overflowing (undefined) for
       callers that pass extreme values. */
    return (int32_t)((uint32_t)a + (uint32_t)b);
}

double add_f64(double a, double b)
{
    return a + b;
}

int64_t mix3(int32_t a, int64_t b, double c)
{
    return a + b + (int64_t)c;
}

double mix4(int32_t a, double b, int64_t c, double d)
{
    return a + b + c + d;
}

int64_t sum8_i64(int64_t a, int64_t b, int64_t c, int64_t d,
                 int64_t e, int64_t f, int64_t g, int64_t h)
{
    /* 8 integer arguments: the last two go on the stack on x86-64 SysV. */
    return a + b + c + d + e + f + g + h;
}

double mix12(int32_t a, double b, int64_t c, float d, uint32_t e, double f,
             int16_t g, double h, uint64_t i, float j, int8_t k, double l)
{
    /* Summed left to right in double, as Python's sum() does, so the
       harness can check the result exactly. */
    return a + b + c + d + e + f + g + h + i + j + k + l;
}

double vec3_norm2(struct Vec3 v)
{
    /* 24 bytes: too big for registers, passed in memory on x86-64 SysV. */
    return v.x * v.x + v.y * v.y + v.z * v.z;
}

uint32_t sum_bytes(const uint8_t *p, size_t n)
{
    uint32_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += p[i];
    return total;
}
