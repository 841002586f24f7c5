/*
 * Targets of the batched-call benchmarks (batch.py), in their own library.
 *
 * c_loop_add_i32 is the floor a native loop can reach: a plain C loop calling
 * add_i32 through a function pointer, as fn.map() must (the target is only
 * known at run time).  work_f64 does about 50 ns of arithmetic, so splitting
 * its rows across threads has something to split.
 */
#include <stddef.h>
#include <stdint.h>

int32_t batch_add_i32(int32_t a, int32_t b)
{
    return (int32_t)((uint32_t)a + (uint32_t)b);
}

double batch_mix12(int32_t a, double b, int64_t c, float d, uint32_t e, double f,
                   int16_t g, double h, uint64_t i, float j, int8_t k, double l)
{
    /* Summed as a tree (integers first): the callee's own work stays a few
     * ns, so the benchmark measures the loop's cost per row, not a chain of
     * twelve dependent floating-point adds. */
    int64_t ints = (a + c) + (int64_t)(e + i) + (g + k);
    return (double)ints + ((b + f) + (h + l)) + (double)(d + j);
}

double batch_mix12s(int32_t a, int64_t b, int16_t c, uint32_t d, int8_t e, uint64_t f,
                    int32_t g, int64_t h, double i, float j, double k, double l)
{
    /* Eight integer-class arguments: the last two go on the stack on x86-64. */
    int64_t ints = (a + b) + (int64_t)(c + d) + (int64_t)(e + f) + (g + h);
    return (double)ints + ((i + k) + (l + j));
}

double work_f64(double x)
{
    /* A dependent chain the compiler cannot shorten: ~150 multiply-adds. */
    double acc = x;
    for (int i = 0; i < 150; i++)
        acc = acc * 0.999999 + 1e-9;
    return acc;
}

void c_loop_add_i32(int32_t (*fn)(int32_t, int32_t), const int32_t *a, const int32_t *b,
                    int32_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = fn(a[i], b[i]);
}
