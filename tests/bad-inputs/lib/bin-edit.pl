#!/usr/bin/perl
# bin-edit.pl IN OUT CODE - patch the bytes of a file (a binary record
# stream, usually).  Reads IN into $b, evaluates the Perl CODE, which may
# change $b with the helpers below, and writes $b to OUT.  Plain Perl only.
#
#   u32($off)              the u32 (little-endian) at byte $off
#   set_u32($off, $v)      overwrite it
#   crc32($bytes)          zlib's CRC32 of a string
#   fix_crc($from, $to)    write at byte $to the CRC32 of bytes $from .. $to-1
#   block($n)              the offset of the tag of block $n (from 1) of a
#                          single stream, walking the header and blocks
use strict;
use warnings;
die "usage: bin-edit.pl IN OUT CODE\n" unless @ARGV == 3;
my ($in, $out, $code) = @ARGV;
open(my $fh, '<:raw', $in) or die "bin-edit.pl: $in: $!\n";
local $/;
our $b = <$fh>;
close $fh;

sub u32 { return unpack('V', substr($b, $_[0], 4)); }
sub set_u32 { substr($b, $_[0], 4) = pack('V', $_[1]); }

sub crc32 {
    my ($s) = @_;
    my @t;
    for my $i (0 .. 255) {
        my $c = $i;
        $c = ($c & 1) ? (0xedb88320 ^ ($c >> 1)) : ($c >> 1) for 1 .. 8;
        $t[$i] = $c;
    }
    my $c = 0xffffffff;
    $c = $t[($c ^ $_) & 0xff] ^ ($c >> 8) for unpack('C*', $s);
    return $c ^ 0xffffffff;
}

sub fix_crc { my ($from, $to) = @_; set_u32($to, crc32(substr($b, $from, $to - $from))); }

sub block {
    my ($n) = @_;
    my $p = 12;
    my $ncols = u32($p);
    $p += 4;
    $p += 4 + u32($p) for 1 .. $ncols;
    $p += 4;    # header crc
    for (2 .. $n) { $p += 16 + u32($p + 8); }
    die "bin-edit.pl: no block $n\n" unless substr($b, $p, 4) eq 'RBLK';
    return $p;
}

eval "$code; 1" or die "bin-edit.pl: $@";
open(my $oh, '>:raw', $out) or die "bin-edit.pl: $out: $!\n";
print $oh $b;
close $oh or die "bin-edit.pl: $out: $!\n";
