"""The call tiers, fastest first: ``jit`` (per-signature machine code),
``plan`` (the ABI classification run by one static routine per ABI),
``libffi`` (the universal fallback).  Each tier is one module (the JIT a
package) with the same interface -- ``platform_refusal()``, ``refusal(sig)``,
``prepare(sig, flags)``, ``describe(sig, fn)`` -- and :mod:`.selection`
chooses among them once, when a function is created."""
