/*
 * banned.h - unsafe C string functions, made compile errors.
 *
 * Included last by every file in common/, tools/ and tests/ (after the
 * system headers, so their declarations are untouched), as git does.  Use
 * snprintf, memcpy with explicit lengths, strtod/strtol with end checks, or
 * the cli_parse_* helpers instead.
 */
#ifndef RECSTAGE_BANNED_H
#define RECSTAGE_BANNED_H

#define BANNED(func) sorry_##func##_is_a_banned_function

#undef strcpy
#define strcpy(x, y) BANNED(strcpy)
#undef strcat
#define strcat(x, y) BANNED(strcat)
#undef strncpy
#define strncpy(x, y, n) BANNED(strncpy)
#undef strncat
#define strncat(x, y, n) BANNED(strncat)
#undef sprintf
#define sprintf(...) BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) BANNED(vsprintf)
#undef strtok
#define strtok(x, y) BANNED(strtok)
#undef atoi
#define atoi(x) BANNED(atoi)
#undef atol
#define atol(x) BANNED(atol)
#undef atof
#define atof(x) BANNED(atof)
#undef gets
#define gets(x) BANNED(gets)

#endif
