"""The x86-64 code of the jit callback mechanism (fastffi/tiers/jit/thunk.py
over jit/x86_64.py), checked against capstone and, where installed, objdump
(tests/test_jit.py's oracles), with the fixed runtime of
test_thunk_aarch64_encoding.py."""
from __future__ import annotations

import pytest

from fastffi.tiers.jit import thunk, x86_64
from test_jit import disassemble
from test_thunk_aarch64_encoding import TRT, WORDS, _clean

pytestmark = pytest.mark.no_sanitizer   # capstone: see test_jit_aarch64_encoding.py

LONG_CB = """
    push rbx
    push r12
    push r13
    sub rsp,0x40
    mov QWORD PTR [rsp],rdi
    mov r12,QWORD PTR [r10]
    mov r13,QWORD PTR [r10+0x8]
    mov rdi,r12
    lea rsi,[rsp+0x20]
    movabs rax,0x7f0000010000
    call rax
    test rax,rax
    je 0x16e
    mov rbx,rax
    mov rdi,QWORD PTR [rsp]
    movabs rax,0xffff00020000
    call rax
    mov QWORD PTR [rsp+0x8],rax
    test rax,rax
    je 0x148
    mov rdi,QWORD PTR [rbx+0x20]
    lea rsi,[rsp+0x8]
    mov edx,0x1
    xor ecx,ecx
    call r13
    mov QWORD PTR [rsp+0x18],rax
    mov rdi,QWORD PTR [rsp+0x8]
    sub QWORD PTR [rdi],0x1
    jne 0x88
    movabs rax,0x7f0000080000
    call rax
    mov rdi,QWORD PTR [rsp+0x18]
    test rdi,rdi
    je 0x12a
    movabs rax,0xaaaa12345678
    cmp rax,QWORD PTR [rdi+0x8]
    jne 0xcd
    mov rax,QWORD PTR [rdi+0x10]
    lea rcx,[rax+0x1]
    cmp rcx,0x2
    ja 0xcd
    mov ecx,DWORD PTR [rdi+0x18]
    imul rax,rcx
    mov QWORD PTR [rsp+0x10],rax
    jmp 0xe9
    mov rdi,rbx
    mov rsi,r12
    mov rdx,QWORD PTR [rsp+0x18]
    lea rcx,[rsp+0x10]
    movabs rax,0x7f0000030000
    call rax
    mov rdi,QWORD PTR [rsp+0x18]
    sub QWORD PTR [rdi],0x1
    jne 0x104
    movabs rax,0x7f0000080000
    call rax
    mov rdi,rbx
    lea rsi,[rsp+0x20]
    movabs rax,0x7f0000020000
    call rax
    mov rax,QWORD PTR [rsp+0x10]
    add rsp,0x40
    pop r13
    pop r12
    pop rbx
    ret
    mov rdi,rbx
    mov rsi,r12
    xor edx,edx
    lea rcx,[rsp+0x10]
    movabs rax,0x7f0000030000
    call rax
    jmp 0x104
    mov rdi,rbx
    mov rsi,r12
    lea rdx,[rsp+0x8]
    mov ecx,0x0
    lea r8,[rsp+0x10]
    movabs rax,0x7f0000040000
    call rax
    jmp 0x104
    lea rax,[rsp]
    mov QWORD PTR [rsp+0x8],rax
    mov rdi,r12
    lea rsi,[rsp+0x8]
    lea rdx,[rsp+0x10]
    movabs rax,0x7f0000060000
    call rax
    jmp 0x118
"""


def test_the_new_encoders(tmp_path):
    a = x86_64.X64()
    a.endbr64()
    a.sub_mem_imm8(x86_64.RDI, 0, 1)
    a.sub_mem_imm8(x86_64.R13, 8, 1)
    assert disassemble(bytes(a.code), tmp_path) == ["endbr64", "sub QWORD PTR [rdi],0x1",
                                                    "sub QWORD PTR [r13+0x8],0x1"]


def test_whole_body_of_long_cb_long(tmp_path):
    """The same steps as on AArch64: r10 is the stub's data word, r12 the
    target, r13 how func is called, rbx the Callback; %rsp stays 16-byte
    aligned at every call (three pushes after the return address)."""
    shape = thunk.ThunkShape((thunk.ThunkArg("i64", False, 0),), "i64")
    block = thunk.emit_block(x86_64.Operations(), TRT, shape, WORDS)
    assert disassemble(block.code[:block.body], tmp_path) == _clean(LONG_CB).splitlines()


def test_stubs(tmp_path):
    shape = thunk.ThunkShape((thunk.ThunkArg("i64", False, 0),), "i64")
    block = thunk.emit_block(x86_64.Operations(), TRT, shape, WORDS)
    for i in (0, 1, 63):
        at = block.first + i * thunk.STUB_SIZE
        stub = block.code[at:at + thunk.STUB_SIZE]
        assert disassemble(stub[:19], tmp_path) == ["endbr64", f"movabs r10,{WORDS + 16 * i:#x}",
                                                    f"jmp {(-at) & (2**64 - 1):#x}"]
        assert stub[19:] == (b"\xcc" * 13 if i < 63 else b"")   # int3 up to the next stub
        assert block.fields[i] == at + 6
