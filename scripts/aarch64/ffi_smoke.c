/* Smoke test for the arm64 root: a libffi call compiled and run in the root under emulation.
 * Calls add(i32, i32) and an HFA-returning function (two doubles, returned in v0/v1 on AArch64)
 * through ffi_call and checks the results against direct calls. Exit status 0 when both agree. */
#include <ffi.h>
#include <stdio.h>

static int add(int a, int b) { return a + b; }

typedef struct { double x, y; } point;
static point scale(point p, double k) { point r = { p.x * k, p.y * k }; return r; }

int main(void)
{
    ffi_cif cif;
    ffi_type *int_args[2] = { &ffi_type_sint, &ffi_type_sint };
    int a = 40, b = 2;
    void *int_values[2] = { &a, &b };
    ffi_arg int_result = 0;

    if (ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 2, &ffi_type_sint, int_args) != FFI_OK) {
        fprintf(stderr, "ffi_prep_cif(add) failed\n");
        return 1;
    }
    ffi_call(&cif, FFI_FN(add), &int_result, int_values);
    if ((int)int_result != add(a, b)) {
        fprintf(stderr, "add through libffi gave %d, expected %d\n", (int)int_result, add(a, b));
        return 1;
    }

    ffi_type *point_elements[3] = { &ffi_type_double, &ffi_type_double, NULL };
    ffi_type point_type = { 0, 0, FFI_TYPE_STRUCT, point_elements };
    ffi_type *point_args[2] = { &point_type, &ffi_type_double };
    point p = { 1.5, -2.25 };
    double k = 4.0;
    void *point_values[2] = { &p, &k };
    point got, want = scale(p, k);

    if (ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 2, &point_type, point_args) != FFI_OK) {
        fprintf(stderr, "ffi_prep_cif(scale) failed\n");
        return 1;
    }
    ffi_call(&cif, FFI_FN(scale), &got, point_values);
    if (got.x != want.x || got.y != want.y) {
        fprintf(stderr, "scale through libffi gave (%g, %g), expected (%g, %g)\n", got.x, got.y, want.x, want.y);
        return 1;
    }

    printf("libffi smoke test ok: add(40, 2) = %d, scale((1.5, -2.25), 4) = (%g, %g), char is %s\n",
           (int)int_result, got.x, got.y, (char)-1 < 0 ? "signed" : "unsigned");
    return 0;
}
