//! ISA identification: the `misa` CSR value and ISA string of the hart kemu emulates.

/// `misa.MXL` value for a 64-bit hart (privileged spec, "Machine ISA Register").
pub const MXL_64: u64 = 2;

/// The `misa` bit of a single-letter extension (`b'A'`..=`b'Z'`), or 0 for any other byte.
pub const fn ext_bit(letter: u8) -> u64 {
    if letter.is_ascii_uppercase() {
        1 << (letter - b'A')
    } else {
        0
    }
}

/// Single-letter extensions of the emulated hart: RV64IMAFDC plus S and U modes.
pub const EXTENSIONS: &[u8] = b"IMAFDCSU";

/// The `misa` value: MXL in bits 63:62, one bit per extension letter.
pub const fn misa() -> u64 {
    let mut bits = MXL_64 << 62;
    let mut i = 0;
    while i < EXTENSIONS.len() {
        bits |= ext_bit(EXTENSIONS[i]);
        i += 1;
    }
    bits
}

/// The ISA string for device trees (`riscv,isa`).
pub const ISA_STRING: &str = "rv64imafdc_zicsr_zifencei";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn misa_has_rv64imafdcsu() {
        // Privileged spec table 3.2: A=bit 0, C=2, D=3, F=5, I=8, M=12, S=18, U=20.
        let want = (2u64 << 62) | 1 | (1 << 2) | (1 << 3) | (1 << 5) | (1 << 8) | (1 << 12) | (1 << 18) | (1 << 20);
        assert_eq!(misa(), want);
        assert_eq!(misa(), 0x8000_0000_0014_112d);
    }

    #[test]
    fn non_letters_have_no_bit() {
        assert_eq!(ext_bit(b'a'), 0);
        assert_eq!(ext_bit(b'0'), 0);
        assert_eq!(ext_bit(b'Z'), 1 << 25);
    }
}
