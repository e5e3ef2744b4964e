# A hostile guest (STOP latency): 30 pages 16 MiB apart (so they shared one page bucket of
# the translation cache when it had 4096) each get 1023 one-instruction blocks; then a
# loop stores into a 31st such page and runs the one block there, forever. Every store
# invalidates that page; with shared buckets each invalidation walked the other pages'
# 30,000 blocks. Run with --mem 512M.
    .globl _start
_start:
    li s0, 0x81000000       # first far page
    li s1, 30
    li s2, 0x01000000       # 16 MiB
fill:
    mv t0, s0
    li t1, 1023
    li t2, 0x0040006f       # jal x0, 4
1:  sw t2, 0(t0)
    addi t0, t0, 4
    addi t1, t1, -1
    bnez t1, 1b
    li t2, 0x00008067       # ret
    sw t2, 0(t0)
    fence.i
    jalr ra, 0(s0)          # 1023 blocks, each translated once
    add s0, s0, s2
    addi s1, s1, -1
    bnez s1, fill
    li s3, 0x9f000000       # the 31st page
    li t2, 0x00008067
loop:
    sw t2, 0(s3)
    fence.i
    jalr ra, 0(s3)
    j loop
