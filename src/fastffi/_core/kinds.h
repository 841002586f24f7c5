/* The one list of scalar kinds.  Everything else -- the C enum, names, sizes,
 * alignments, libffi types and the table the Python side reads (`_core.KINDS`)
 * -- is generated from it, so adding a kind is one line here (koffi's
 * primitives.inc does the same with an X-macro).
 *
 * X(ENUM, "canonical name", C type used for size/alignment, libffi type)
 * The numeric values are part of the plan format shared with Python: append only. */
#ifndef FASTFFI_KINDS_H
#define FASTFFI_KINDS_H

#include <stdbool.h>
#include <stdint.h>
#include <wchar.h>

#define FASTFFI_SCALAR_KINDS(X)                      \
    X(BOOL,    "bool",    bool,        ffi_type_uint8)  \
    X(I8,      "i8",      int8_t,      ffi_type_sint8)  \
    X(I16,     "i16",     int16_t,     ffi_type_sint16) \
    X(I32,     "i32",     int32_t,     ffi_type_sint32) \
    X(I64,     "i64",     int64_t,     ffi_type_sint64) \
    X(U8,      "u8",      uint8_t,     ffi_type_uint8)  \
    X(U16,     "u16",     uint16_t,    ffi_type_uint16) \
    X(U32,     "u32",     uint32_t,    ffi_type_uint32) \
    X(U64,     "u64",     uint64_t,    ffi_type_uint64) \
    X(F32,     "f32",     float,       ffi_type_float)  \
    X(F64,     "f64",     double,      ffi_type_double) \
    X(POINTER, "pointer", void *,      ffi_type_pointer) \
    X(STRING,  "string",  const char *, ffi_type_pointer) \
    /* 128-bit integers and wide strings.  libffi has no __int128 type:     \
     * ffi_type_void is a placeholder no call ever reads -- the libffi tier, \
     * its callback closures and its struct descriptions refuse i128/u128   \
     * first (fastffi/tiers/libffi.py), with that reason. */                \
    X(I128,    "i128",    __int128,     ffi_type_void)  \
    X(U128,    "u128",    unsigned __int128, ffi_type_void) \
    X(WSTRING, "wstring", const wchar_t *, ffi_type_pointer) \
    FASTFFI_WIDE_FLOAT_KINDS(X)

/* The floating kinds wider than a register image, or complex:
 * converted through a 16-byte Wide (runtime/convert.h), not a Slot.  A
 * libffi without complex types (no FFI_TARGET_HAS_COMPLEX_TYPE) gets void
 * here and the libffi tier refuses them (tiers/libffi.py). */
#if defined(FFI_TARGET_HAS_COMPLEX_TYPE)
#define FASTFFI_FFI_COMPLEX_FLOAT ffi_type_complex_float
#define FASTFFI_FFI_COMPLEX_DOUBLE ffi_type_complex_double
#else
#define FASTFFI_FFI_COMPLEX_FLOAT ffi_type_void
#define FASTFFI_FFI_COMPLEX_DOUBLE ffi_type_void
#endif
#define FASTFFI_WIDE_FLOAT_KINDS(X)                                         \
    X(C64,        "c64",        float _Complex,  FASTFFI_FFI_COMPLEX_FLOAT)  \
    X(C128,       "c128",       double _Complex, FASTFFI_FFI_COMPLEX_DOUBLE) \
    X(LONGDOUBLE, "longdouble", long double,     ffi_type_longdouble)

typedef enum {
    KIND_VOID = 0,
#define X(e, name, ctype, ffitype) KIND_##e,
    FASTFFI_SCALAR_KINDS(X)
#undef X
    KIND_STRUCT,        /* struct or union by value; layout described separately */
    KIND__COUNT
} Kind;

static inline int kind_is_signed(int k) { return k >= KIND_I8 && k <= KIND_I64; }
static inline int kind_is_unsigned(int k) { return k >= KIND_U8 && k <= KIND_U64; }
static inline int kind_is_float(int k) { return k == KIND_F32 || k == KIND_F64; }
/* The 16-byte integers: converted and stored as two eightbytes, low first
 * (both targets are little-endian; psABI 3.2.3 and AAPCS64 C.9 place the
 * low half in the lower-numbered register). */
static inline int kind_is_int128(int k) { return k == KIND_I128 || k == KIND_U128; }
/* c64, c128, longdouble: converted and boxed through a Wide (convert.h). */
static inline int kind_is_wide(int k) { return k == KIND_C64 || k == KIND_C128 || k == KIND_LONGDOUBLE; }

#endif
