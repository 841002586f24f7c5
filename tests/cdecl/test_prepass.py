"""The token pre-pass: extensions blanked character for character (lines and
columns kept), asm labels and layout attributes recorded, inline bodies emptied."""
from fastffi.cdecl.prepass import clean

TEXT = '''extern int fscanf (FILE *__restrict __stream, const char *__restrict __format, ...) __asm__ ("" "__isoc99_fscanf");
struct __attribute__((packed)) pk { char c; int i __attribute__((__aligned__(8))); };
typedef int register_t __attribute__ ((__mode__ (__DI__)));
static __inline int inl (int __x) { return __x + (int) sizeof (struct pk); }
__extension__ typedef unsigned long long __u64;
_Float32 f32(_Float64 x);
'''


def test_columns_and_lines_are_kept():
    out = clean(TEXT).text
    assert [len(line) for line in out.split("\n")] == [len(line) for line in TEXT.split("\n")]


def test_what_is_recorded_and_removed():
    c = clean(TEXT)
    assert c.asm_labels == {"fscanf": "__isoc99_fscanf"}
    lines = c.text.split("\n")
    assert "__asm__" not in c.text and "__attribute__" not in c.text and "__restrict" not in c.text
    assert lines[0].split() == ["extern", "int", "fscanf", "(FILE", "*", "__stream,", "const", "char", "*",
                                "__format,", "...)", ";"]
    # packed on the struct's tag, aligned on the member's name, mode on the typedef's name
    assert c.attributes[(2, TEXT.split("\n")[1].index("pk") + 1)] == {"packed": True}
    assert c.attributes[(2, TEXT.split("\n")[1].index(" i ") + 2)] == {"aligned": 8}
    assert c.attributes[(3, TEXT.split("\n")[2].index("register_t") + 1)] == {"mode": "DI"}
    assert lines[3].split("{")[1].strip() == "}"     # the inline body emptied
    assert "inline" in lines[3] and "__extension__" not in lines[4]
    assert lines[5].split() == ["float", "f32(double", "x);"]
