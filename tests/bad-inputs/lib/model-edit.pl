#!/usr/bin/perl
# model-edit.pl IN OUT CODE - rewrite a safetensors model file.
#
# Reads IN, splits it into the JSON header ($h, trailing padding removed)
# and the data section ($d), evaluates the Perl CODE, which may change $h
# and $d and set:
#   $crc = 1     recompute the "crc32" metadata over the (new) data section
#   $hlen = N    write N as the header length instead of the true one
#   $lenbytes = S  write the 8 bytes S as the header length field
#   $raw = 1     write $h without padding to a multiple of 8
#   $cut = N     keep only the first N bytes of the result
# then writes OUT.  Plain Perl only (no modules), for any Debian machine.
use strict;
use warnings;
die "usage: model-edit.pl IN OUT CODE\n" unless @ARGV == 3;
my ($in, $out, $code) = @ARGV;
open(my $fh, '<:raw', $in) or die "model-edit.pl: $in: $!\n";
local $/;
my $buf = <$fh>;
close $fh;
my ($lo, $hi) = unpack('VV', substr($buf, 0, 8));
my $n = $lo + $hi * 4294967296;
our $h = substr($buf, 8, $n);
our $d = substr($buf, 8 + $n);
$h =~ s/ +\z//;
our ($crc, $hlen, $lenbytes, $raw, $cut) = (0, undef, undef, 0, undef);

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

eval "$code; 1" or die "model-edit.pl: $@";
if ($crc) {
    my $x = sprintf('%08x', crc32($d));
    $h =~ s/"crc32":"[^"]*"/"crc32":"$x"/ or die "model-edit.pl: no crc32 in the header\n";
}
$h .= ' ' x ((8 - length($h) % 8) % 8) unless $raw;
my $len = defined $hlen ? $hlen : length($h);
my $lenfield = defined $lenbytes ? $lenbytes : pack('VV', $len % 4294967296, int($len / 4294967296));
my $res = $lenfield . $h . $d;
$res = substr($res, 0, $cut) if defined $cut;
open(my $oh, '>:raw', $out) or die "model-edit.pl: $out: $!\n";
print $oh $res;
close $oh or die "model-edit.pl: $out: $!\n";
