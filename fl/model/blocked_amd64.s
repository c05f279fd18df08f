//go:build !noasm && !gccgo && !safe && !purego

#include "textflag.h"

// The register-blocked kernels of blocked_amd64.go. Every product is a
// VMULPD and every sum a VADDPD (never a fused multiply-add), with the
// operands in the order of gonum's SSE2 kernels (product first in an axpy,
// accumulator first in a dot), so that each output element goes through
// exactly the roundings of mulAddRowsGo and dotRowsGo.

// MULADD(w, acc0, acc1): acc0 += w·Y8, acc1 += w·Y9, each product rounded
// first (Y11 holds it). The product is the first operand of the sum, as in
// gonum's AxpyUnitary (ADDPD (y), X2 with X2 = x·alpha).
#define MULADD(w, acc0, acc1) \
	VMULPD w, Y8, Y11   \
	VADDPD acc0, Y11, acc0 \
	VMULPD w, Y9, Y12   \
	VADDPD acc1, Y12, acc1

// func mulAdd4x8(o *float64, ldo int, a *float64, ars, acs int, x *float64, ldx int, k, nb int)
//
// For nb blocks of eight columns: rows r < 4 of o (ldo apart) take
// o[r][c] ← a[r·ars + l·acs]·x[l·ldx + c] + o[r][c] for l = 0 … k−1 in
// order. The 4×8 block of o stays in Y0…Y7 across all l; each l loads
// x[l, c:c+8] once (Y8, Y9) and broadcasts the four weights (Y10).
// Strides are in values; k ≥ 1 and nb ≥ 1.
TEXT ·mulAdd4x8(SB), NOSPLIT, $0-72
	MOVQ o+0(FP), DI
	MOVQ ldo+8(FP), R8
	SHLQ $3, R8
	MOVQ a+16(FP), SI
	MOVQ ars+24(FP), R9
	SHLQ $3, R9
	MOVQ acs+32(FP), R10
	SHLQ $3, R10
	MOVQ x+40(FP), DX
	MOVQ ldx+48(FP), R11
	SHLQ $3, R11
	MOVQ k+56(FP), R12
	MOVQ nb+64(FP), R13
	LEAQ (R9)(R9*2), R14 // 3·ars bytes

block4:
	LEAQ    (DI)(R8*2), AX
	ADDQ    R8, AX             // row 3
	VMOVUPD (DI), Y0
	VMOVUPD 32(DI), Y1
	VMOVUPD (DI)(R8*1), Y2
	VMOVUPD 32(DI)(R8*1), Y3
	VMOVUPD (DI)(R8*2), Y4
	VMOVUPD 32(DI)(R8*2), Y5
	VMOVUPD (AX), Y6
	VMOVUPD 32(AX), Y7
	MOVQ    SI, AX             // a[·, l]
	MOVQ    DX, BX             // x[l, c]
	MOVQ    R12, CX

loop4:
	VMOVUPD      (BX), Y8
	VMOVUPD      32(BX), Y9
	VBROADCASTSD (AX), Y10
	MULADD(Y10, Y0, Y1)
	VBROADCASTSD (AX)(R9*1), Y13
	MULADD(Y13, Y2, Y3)
	VBROADCASTSD (AX)(R9*2), Y14
	MULADD(Y14, Y4, Y5)
	VBROADCASTSD (AX)(R14*1), Y15
	MULADD(Y15, Y6, Y7)
	ADDQ         R10, AX
	ADDQ         R11, BX
	DECQ         CX
	JNZ          loop4

	LEAQ    (DI)(R8*2), AX
	ADDQ    R8, AX
	VMOVUPD Y0, (DI)
	VMOVUPD Y1, 32(DI)
	VMOVUPD Y2, (DI)(R8*1)
	VMOVUPD Y3, 32(DI)(R8*1)
	VMOVUPD Y4, (DI)(R8*2)
	VMOVUPD Y5, 32(DI)(R8*2)
	VMOVUPD Y6, (AX)
	VMOVUPD Y7, 32(AX)
	ADDQ    $64, DI
	ADDQ    $64, DX
	DECQ    R13
	JNZ     block4
	VZEROUPPER
	RET

// func mulAdd2x8(o *float64, ldo int, a *float64, ars, acs int, x *float64, ldx int, k, nb int)
//
// mulAdd4x8 for two rows.
TEXT ·mulAdd2x8(SB), NOSPLIT, $0-72
	MOVQ o+0(FP), DI
	MOVQ ldo+8(FP), R8
	SHLQ $3, R8
	MOVQ a+16(FP), SI
	MOVQ ars+24(FP), R9
	SHLQ $3, R9
	MOVQ acs+32(FP), R10
	SHLQ $3, R10
	MOVQ x+40(FP), DX
	MOVQ ldx+48(FP), R11
	SHLQ $3, R11
	MOVQ k+56(FP), R12
	MOVQ nb+64(FP), R13

block2:
	VMOVUPD (DI), Y0
	VMOVUPD 32(DI), Y1
	VMOVUPD (DI)(R8*1), Y2
	VMOVUPD 32(DI)(R8*1), Y3
	MOVQ    SI, AX
	MOVQ    DX, BX
	MOVQ    R12, CX

loop2:
	VMOVUPD      (BX), Y8
	VMOVUPD      32(BX), Y9
	VBROADCASTSD (AX), Y10
	MULADD(Y10, Y0, Y1)
	VBROADCASTSD (AX)(R9*1), Y13
	MULADD(Y13, Y2, Y3)
	ADDQ         R10, AX
	ADDQ         R11, BX
	DECQ         CX
	JNZ          loop2

	VMOVUPD Y0, (DI)
	VMOVUPD Y1, 32(DI)
	VMOVUPD Y2, (DI)(R8*1)
	VMOVUPD Y3, 32(DI)(R8*1)
	ADDQ    $64, DI
	ADDQ    $64, DX
	DECQ    R13
	JNZ     block2
	VZEROUPPER
	RET

// func mulAdd4x8Off(o *float64, ldo int, a *float64, ars, acs int, x *float64, off *int, k, nb int)
//
// mulAdd4x8 with the rows of x at x + off[l] (values) instead of ldx
// apart: the convolution's unrolled input read in place.
TEXT ·mulAdd4x8Off(SB), NOSPLIT, $0-72
	MOVQ o+0(FP), DI
	MOVQ ldo+8(FP), R8
	SHLQ $3, R8
	MOVQ a+16(FP), SI
	MOVQ ars+24(FP), R9
	SHLQ $3, R9
	MOVQ acs+32(FP), R10
	SHLQ $3, R10
	MOVQ x+40(FP), DX
	MOVQ k+56(FP), R12
	MOVQ nb+64(FP), R13
	LEAQ (R9)(R9*2), R14 // 3·ars bytes

oblock4:
	LEAQ    (DI)(R8*2), AX
	ADDQ    R8, AX             // row 3
	VMOVUPD (DI), Y0
	VMOVUPD 32(DI), Y1
	VMOVUPD (DI)(R8*1), Y2
	VMOVUPD 32(DI)(R8*1), Y3
	VMOVUPD (DI)(R8*2), Y4
	VMOVUPD 32(DI)(R8*2), Y5
	VMOVUPD (AX), Y6
	VMOVUPD 32(AX), Y7
	MOVQ    SI, AX             // a[·, l]
	MOVQ    off+48(FP), R11    // off[l]
	MOVQ    R12, CX

oloop4:
	MOVQ         (R11), BX
	VMOVUPD      (DX)(BX*8), Y8
	VMOVUPD      32(DX)(BX*8), Y9
	VBROADCASTSD (AX), Y10
	MULADD(Y10, Y0, Y1)
	VBROADCASTSD (AX)(R9*1), Y13
	MULADD(Y13, Y2, Y3)
	VBROADCASTSD (AX)(R9*2), Y14
	MULADD(Y14, Y4, Y5)
	VBROADCASTSD (AX)(R14*1), Y15
	MULADD(Y15, Y6, Y7)
	ADDQ         R10, AX
	ADDQ         $8, R11
	DECQ         CX
	JNZ          oloop4

	LEAQ    (DI)(R8*2), AX
	ADDQ    R8, AX
	VMOVUPD Y0, (DI)
	VMOVUPD Y1, 32(DI)
	VMOVUPD Y2, (DI)(R8*1)
	VMOVUPD Y3, 32(DI)(R8*1)
	VMOVUPD Y4, (DI)(R8*2)
	VMOVUPD Y5, 32(DI)(R8*2)
	VMOVUPD Y6, (AX)
	VMOVUPD Y7, 32(AX)
	ADDQ    $64, DI
	ADDQ    $64, DX
	DECQ    R13
	JNZ     oblock4
	VZEROUPPER
	RET

// func mulAdd2x8Off(o *float64, ldo int, a *float64, ars, acs int, x *float64, off *int, k, nb int)
//
// mulAdd4x8Off for two rows.
TEXT ·mulAdd2x8Off(SB), NOSPLIT, $0-72
	MOVQ o+0(FP), DI
	MOVQ ldo+8(FP), R8
	SHLQ $3, R8
	MOVQ a+16(FP), SI
	MOVQ ars+24(FP), R9
	SHLQ $3, R9
	MOVQ acs+32(FP), R10
	SHLQ $3, R10
	MOVQ x+40(FP), DX
	MOVQ k+56(FP), R12
	MOVQ nb+64(FP), R13

oblock2:
	VMOVUPD (DI), Y0
	VMOVUPD 32(DI), Y1
	VMOVUPD (DI)(R8*1), Y2
	VMOVUPD 32(DI)(R8*1), Y3
	MOVQ    SI, AX
	MOVQ    off+48(FP), R11
	MOVQ    R12, CX

oloop2:
	MOVQ         (R11), BX
	VMOVUPD      (DX)(BX*8), Y8
	VMOVUPD      32(DX)(BX*8), Y9
	VBROADCASTSD (AX), Y10
	MULADD(Y10, Y0, Y1)
	VBROADCASTSD (AX)(R9*1), Y13
	MULADD(Y13, Y2, Y3)
	ADDQ         R10, AX
	ADDQ         $8, R11
	DECQ         CX
	JNZ          oloop2

	VMOVUPD Y0, (DI)
	VMOVUPD Y1, 32(DI)
	VMOVUPD Y2, (DI)(R8*1)
	VMOVUPD Y3, 32(DI)(R8*1)
	ADDQ    $64, DI
	ADDQ    $64, DX
	DECQ    R13
	JNZ     oblock2
	VZEROUPPER
	RET

// DOTSTEP(xp, acc0, acc1): acc0 += Y8·[xp+AX], acc1 += Y9·[xp+AX], the
// products (d first) rounded, then added with the accumulator first, as
// in gonum's DotUnitary (MULPD X1, X0; ADDPD X0, X7).
#define DOTSTEP(xp, acc0, acc1) \
	VMOVUPD (xp)(AX*1), Y10 \
	VMULPD  Y10, Y8, Y11    \
	VADDPD  Y11, acc0, acc0 \
	VMULPD  Y10, Y9, Y12    \
	VADDPD  Y12, acc1, acc1

// func dot2x4(gp *float64, ldg int, d *float64, ldd int, x *float64, ldx int, n4b, nb, nlb, add int)
//
// For nlb blocks of four rows of x (x_0 … x_3, ldx apart) and the two rows
// d_0, d_1 (ldd apart, ldd ≥ 1): g[f·ldg + l] ← dot(d_f, x_l), or
// g + dot if add ≠ 0, for f < 2 and l < 4, then the next four rows of x
// and the next four columns of g. Each dot is dotGo's: the lanes of one
// accumulator (Y0…Y3 for d_0, Y4…Y7 for d_1) are the partial sums s₀…s₃
// over the first n4b bytes (a multiple of 32); a 4×4 transpose puts
// s_j of the four dots of d_f into one register S_j; the products of the
// tail (bytes n4b … nb) are added to S₀ one index at a time; then
// (S₁+S₃) + (S₀+S₂) — the order of DotUnitary's last ADDSD — gives the
// four dots at once. nb > 0, nlb ≥ 1.
TEXT ·dot2x4(SB), NOSPLIT, $0-80
	MOVQ gp+0(FP), DI
	MOVQ ldg+8(FP), R8
	SHLQ $3, R8
	MOVQ d+16(FP), SI
	MOVQ ldd+24(FP), DX
	LEAQ (SI)(DX*8), DX  // d_1
	MOVQ x+32(FP), R9
	MOVQ ldx+40(FP), AX
	LEAQ (R9)(AX*8), R10
	LEAQ (R10)(AX*8), R11
	LEAQ (R11)(AX*8), R12
	MOVQ n4b+48(FP), R13
	MOVQ nlb+64(FP), R14

lblock:
	VXORPD Y0, Y0, Y0
	VXORPD Y1, Y1, Y1
	VXORPD Y2, Y2, Y2
	VXORPD Y3, Y3, Y3
	VXORPD Y4, Y4, Y4
	VXORPD Y5, Y5, Y5
	VXORPD Y6, Y6, Y6
	VXORPD Y7, Y7, Y7
	XORQ   AX, AX
	CMPQ   AX, R13
	JGE    reduce0

dloop:
	VMOVUPD (SI)(AX*1), Y8
	VMOVUPD (DX)(AX*1), Y9
	DOTSTEP(R9, Y0, Y4)
	DOTSTEP(R10, Y1, Y5)
	DOTSTEP(R11, Y2, Y6)
	DOTSTEP(R12, Y3, Y7)
	ADDQ    $32, AX
	CMPQ    AX, R13
	JLT     dloop

reduce0:
	MOVQ SI, CX // d_f
	MOVQ DI, BX // g row f

reduce:
	// Transpose Y0…Y3 (one dot each) into S₀…S₃ = Y12, Y14, Y13, Y15.
	VUNPCKLPD  Y1, Y0, Y8
	VUNPCKHPD  Y1, Y0, Y9
	VUNPCKLPD  Y3, Y2, Y10
	VUNPCKHPD  Y3, Y2, Y11
	VPERM2F128 $0x20, Y10, Y8, Y12 // S₀
	VPERM2F128 $0x31, Y10, Y8, Y13 // S₂
	VPERM2F128 $0x20, Y11, Y9, Y14 // S₁
	VPERM2F128 $0x31, Y11, Y9, Y15 // S₃

	// The tail: S₀ ← S₀ + d_f[i]·(x_0[i], x_1[i], x_2[i], x_3[i]).
	MOVQ R13, AX

tail:
	CMPQ         AX, nb+56(FP)
	JGE          fold
	VMOVSD       (R9)(AX*1), X8
	VMOVHPD      (R10)(AX*1), X8, X8
	VMOVSD       (R11)(AX*1), X9
	VMOVHPD      (R12)(AX*1), X9, X9
	VINSERTF128  $1, X9, Y8, Y8
	VBROADCASTSD (CX)(AX*1), Y10
	VMULPD       Y8, Y10, Y11
	VADDPD       Y11, Y12, Y12
	ADDQ         $8, AX
	JMP          tail

fold:
	VADDPD Y13, Y12, Y12 // S₀+S₂
	VADDPD Y15, Y14, Y14 // S₁+S₃
	VADDPD Y12, Y14, Y14 // (S₁+S₃) + (S₀+S₂)
	CMPQ   add+72(FP), $0
	JEQ    store
	VMOVUPD (BX), Y13
	VADDPD  Y14, Y13, Y14 // g + dot

store:
	VMOVUPD Y14, (BX)
	CMPQ    CX, DX
	JEQ     nextl
	MOVQ    DX, CX // now d_1, its dots in Y4…Y7
	ADDQ    R8, BX
	VMOVAPD Y4, Y0
	VMOVAPD Y5, Y1
	VMOVAPD Y6, Y2
	VMOVAPD Y7, Y3
	JMP     reduce

nextl:
	MOVQ ldx+40(FP), AX
	SHLQ $5, AX          // four rows of x, in bytes
	ADDQ AX, R9
	ADDQ AX, R10
	ADDQ AX, R11
	ADDQ AX, R12
	ADDQ $32, DI
	DECQ R14
	JNZ  lblock
	VZEROUPPER
	RET

// DOTSTEPM(mem, acc0, acc1) is DOTSTEP for the vector at mem.
#define DOTSTEPM(mem, acc0, acc1) \
	VMOVUPD mem, Y10        \
	VMULPD  Y10, Y8, Y11    \
	VADDPD  Y11, acc0, acc0 \
	VMULPD  Y10, Y9, Y12    \
	VADDPD  Y12, acc1, acc1

// TRANSPOSE4(a0, a1, a2, a3): S₀…S₃ = Y12, Y14, Y13, Y15 from the four
// accumulators a_l, whose lanes are the partial sums s₀…s₃ of dot l: lane
// l of S_j is s_j of dot l. Uses Y8…Y11.
#define TRANSPOSE4(a0, a1, a2, a3) \
	VUNPCKLPD  a1, a0, Y8           \
	VUNPCKHPD  a1, a0, Y9           \
	VUNPCKLPD  a3, a2, Y10          \
	VUNPCKHPD  a3, a2, Y11          \
	VPERM2F128 $0x20, Y10, Y8, Y12  \
	VPERM2F128 $0x31, Y10, Y8, Y13  \
	VPERM2F128 $0x20, Y11, Y9, Y14  \
	VPERM2F128 $0x31, Y11, Y9, Y15

// FOLD: Y14 ← (S₁+S₃) + (S₀+S₂), DotUnitary's order.
#define FOLD \
	VADDPD Y13, Y12, Y12 \
	VADDPD Y15, Y14, Y14 \
	VADDPD Y12, Y14, Y14

// func dot2x4Grp(gp *float64, ldg int, d *float64, ldd int, x *float64, off, grp *int, ngb, nlb, add int)
//
// dot2x4 over columns of x gathered in groups of four: the four values of
// group q of column l are at x + grp[q] + off[l] (values), for q < ngb/32
// (ngb > 0, in bytes of d); no tail. For each of nlb blocks of four
// columns (off advancing by four), the dots of d_0 and d_1 with them set
// or, if add ≠ 0, are added to g, as in dot2x4.
TEXT ·dot2x4Grp(SB), NOSPLIT, $0-80
	MOVQ gp+0(FP), DI
	MOVQ ldg+8(FP), R8
	SHLQ $3, R8
	MOVQ d+16(FP), SI
	MOVQ ldd+24(FP), DX
	LEAQ (SI)(DX*8), DX // d_1
	MOVQ x+32(FP), R9
	MOVQ off+40(FP), CX

glblock:
	MOVQ   (CX), R10
	SHLQ   $3, R10
	MOVQ   8(CX), R11
	SHLQ   $3, R11
	MOVQ   16(CX), R12
	SHLQ   $3, R12
	MOVQ   24(CX), R13
	SHLQ   $3, R13
	VXORPD Y0, Y0, Y0
	VXORPD Y1, Y1, Y1
	VXORPD Y2, Y2, Y2
	VXORPD Y3, Y3, Y3
	VXORPD Y4, Y4, Y4
	VXORPD Y5, Y5, Y5
	VXORPD Y6, Y6, Y6
	VXORPD Y7, Y7, Y7
	MOVQ   grp+48(FP), R14
	XORQ   AX, AX

gloop:
	MOVQ    (R14), BX
	LEAQ    (R9)(BX*8), BX
	VMOVUPD (SI)(AX*1), Y8
	VMOVUPD (DX)(AX*1), Y9
	DOTSTEPM((BX)(R10*1), Y0, Y4)
	DOTSTEPM((BX)(R11*1), Y1, Y5)
	DOTSTEPM((BX)(R12*1), Y2, Y6)
	DOTSTEPM((BX)(R13*1), Y3, Y7)
	ADDQ    $8, R14
	ADDQ    $32, AX
	CMPQ    AX, ngb+56(FP)
	JLT     gloop

	TRANSPOSE4(Y0, Y1, Y2, Y3)
	FOLD
	CMPQ    add+72(FP), $0
	JEQ     gstore0
	VMOVUPD (DI), Y13
	VADDPD  Y14, Y13, Y14 // g + dot

gstore0:
	VMOVUPD Y14, (DI)
	TRANSPOSE4(Y4, Y5, Y6, Y7)
	FOLD
	CMPQ    add+72(FP), $0
	JEQ     gstore1
	VMOVUPD (DI)(R8*1), Y13
	VADDPD  Y14, Y13, Y14

gstore1:
	VMOVUPD Y14, (DI)(R8*1)
	ADDQ    $32, CX
	ADDQ    $32, DI
	DECQ    nlb+64(FP)
	JNZ     glblock
	VZEROUPPER
	RET

// func col2imGrpAVX2(din, dcols *float64, off, grp *int, nl, ng int)
//
// col2imGrpGo: for each tap l < nl in order and each group q < ng,
// din[grp[q] + off[l] + u] ← din[…] + dcols[l·4ng + 4q + u], u < 4, in
// one VADDPD (din first, as Go's d += s).
TEXT ·col2imGrpAVX2(SB), NOSPLIT, $0-48
	MOVQ din+0(FP), DI
	MOVQ dcols+8(FP), SI
	MOVQ off+16(FP), R8
	MOVQ grp+24(FP), R9
	MOVQ nl+32(FP), R10
	MOVQ ng+40(FP), R11

crow:
	MOVQ (R8), R13
	LEAQ (DI)(R13*8), R13 // din + off[l]
	XORQ AX, AX

cloop:
	MOVQ    (R9)(AX*8), CX
	VMOVUPD (R13)(CX*8), Y0
	VADDPD  (SI), Y0, Y0
	VMOVUPD Y0, (R13)(CX*8)
	ADDQ    $32, SI
	INCQ    AX
	CMPQ    AX, R11
	JLT     cloop
	ADDQ    $8, R8
	DECQ    R10
	JNZ     crow
	VZEROUPPER
	RET

// MULADDSKIP(w, mask, acc0, acc1): MULADD where mask (w ≠ 0, NaN
// included) is set, the accumulators unchanged where it is not: an axpy
// with a zero weight skipped, as the MLP's kernels skip the zero entries
// of their gradient, whatever x holds.
#define MULADDSKIP(w, mask, acc0, acc1) \
	VMULPD    w, Y8, Y11              \
	VADDPD    acc0, Y11, Y11          \
	VBLENDVPD mask, Y11, acc0, acc0   \
	VMULPD    w, Y9, Y12              \
	VADDPD    acc1, Y12, Y12          \
	VBLENDVPD mask, Y12, acc1, acc1

// ROWSKIP(addr, acc0, acc1): broadcast the weight at addr, compare it
// with 0 and MULADDSKIP.
#define ROWSKIP(addr, acc0, acc1) \
	VBROADCASTSD addr, Y10            \
	VCMPPD       $4, Y14, Y10, Y13    \
	MULADDSKIP(Y10, Y13, acc0, acc1)

// func mulAddSkip4x8(o *float64, ldo int, a *float64, ars, acs int, x *float64, ldx int, k, nb int)
//
// mulAdd4x8, each axpy whose weight is ±0 skipped (NEQ_UQ: a NaN weight
// is not skipped, as v != 0 in Go).
TEXT ·mulAddSkip4x8(SB), NOSPLIT, $0-72
	MOVQ   o+0(FP), DI
	MOVQ   ldo+8(FP), R8
	SHLQ   $3, R8
	MOVQ   a+16(FP), SI
	MOVQ   ars+24(FP), R9
	SHLQ   $3, R9
	MOVQ   acs+32(FP), R10
	SHLQ   $3, R10
	MOVQ   x+40(FP), DX
	MOVQ   ldx+48(FP), R11
	SHLQ   $3, R11
	MOVQ   k+56(FP), R12
	MOVQ   nb+64(FP), R13
	LEAQ   (R9)(R9*2), R14 // 3·ars bytes
	VXORPD Y14, Y14, Y14

sblock4:
	LEAQ    (DI)(R8*2), AX
	ADDQ    R8, AX
	VMOVUPD (DI), Y0
	VMOVUPD 32(DI), Y1
	VMOVUPD (DI)(R8*1), Y2
	VMOVUPD 32(DI)(R8*1), Y3
	VMOVUPD (DI)(R8*2), Y4
	VMOVUPD 32(DI)(R8*2), Y5
	VMOVUPD (AX), Y6
	VMOVUPD 32(AX), Y7
	MOVQ    SI, AX
	MOVQ    DX, BX
	MOVQ    R12, CX

sloop4:
	VMOVUPD (BX), Y8
	VMOVUPD 32(BX), Y9
	ROWSKIP((AX), Y0, Y1)
	ROWSKIP((AX)(R9*1), Y2, Y3)
	ROWSKIP((AX)(R9*2), Y4, Y5)
	ROWSKIP((AX)(R14*1), Y6, Y7)
	ADDQ    R10, AX
	ADDQ    R11, BX
	DECQ    CX
	JNZ     sloop4

	LEAQ    (DI)(R8*2), AX
	ADDQ    R8, AX
	VMOVUPD Y0, (DI)
	VMOVUPD Y1, 32(DI)
	VMOVUPD Y2, (DI)(R8*1)
	VMOVUPD Y3, 32(DI)(R8*1)
	VMOVUPD Y4, (DI)(R8*2)
	VMOVUPD Y5, 32(DI)(R8*2)
	VMOVUPD Y6, (AX)
	VMOVUPD Y7, 32(AX)
	ADDQ    $64, DI
	ADDQ    $64, DX
	DECQ    R13
	JNZ     sblock4
	VZEROUPPER
	RET

// func mulAddSkip2x8(o *float64, ldo int, a *float64, ars, acs int, x *float64, ldx int, k, nb int)
//
// mulAddSkip4x8 for two rows.
TEXT ·mulAddSkip2x8(SB), NOSPLIT, $0-72
	MOVQ   o+0(FP), DI
	MOVQ   ldo+8(FP), R8
	SHLQ   $3, R8
	MOVQ   a+16(FP), SI
	MOVQ   ars+24(FP), R9
	SHLQ   $3, R9
	MOVQ   acs+32(FP), R10
	SHLQ   $3, R10
	MOVQ   x+40(FP), DX
	MOVQ   ldx+48(FP), R11
	SHLQ   $3, R11
	MOVQ   k+56(FP), R12
	MOVQ   nb+64(FP), R13
	VXORPD Y14, Y14, Y14

sblock2:
	VMOVUPD (DI), Y0
	VMOVUPD 32(DI), Y1
	VMOVUPD (DI)(R8*1), Y2
	VMOVUPD 32(DI)(R8*1), Y3
	MOVQ    SI, AX
	MOVQ    DX, BX
	MOVQ    R12, CX

sloop2:
	VMOVUPD (BX), Y8
	VMOVUPD 32(BX), Y9
	ROWSKIP((AX), Y0, Y1)
	ROWSKIP((AX)(R9*1), Y2, Y3)
	ADDQ    R10, AX
	ADDQ    R11, BX
	DECQ    CX
	JNZ     sloop2

	VMOVUPD Y0, (DI)
	VMOVUPD Y1, 32(DI)
	VMOVUPD Y2, (DI)(R8*1)
	VMOVUPD Y3, 32(DI)(R8*1)
	ADDQ    $64, DI
	ADDQ    $64, DX
	DECQ    R13
	JNZ     sblock2
	VZEROUPPER
	RET
