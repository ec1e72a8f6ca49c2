/*
 * country.c: ISO 3166-1 alpha-2 country codes.
 *
 * Only codes assigned in ISO 3166-1 are accepted (the 249 of the
 * standard as of 2024, checked against Debian's iso-codes data), plus XK
 * for Kosovo, which the EAR and most registries use although ISO has not
 * assigned it.  Reserved and user-assigned codes (UK, EU, AA, ZZ, ...) and
 * lower case are refused: a destination that is almost a country code
 * must not be read as some other country.
 *
 * The table is sorted and searched by bisection; it is constant, so every
 * function here is thread-safe.
 */
#include <stdlib.h>
#include <string.h>

#include "tiergate/error.h"
#include "tiergate/util.h"

static const char cc_assigned_tab[][3] = {
	"AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR",
	"AS", "AT", "AU", "AW", "AX", "AZ",
	"BA", "BB", "BD", "BE", "BF", "BG", "BH", "BI", "BJ", "BL",
	"BM", "BN", "BO", "BQ", "BR", "BS", "BT", "BV", "BW", "BY",
	"BZ",
	"CA", "CC", "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM",
	"CN", "CO", "CR", "CU", "CV", "CW", "CX", "CY", "CZ",
	"DE", "DJ", "DK", "DM", "DO", "DZ",
	"EC", "EE", "EG", "EH", "ER", "ES", "ET",
	"FI", "FJ", "FK", "FM", "FO", "FR",
	"GA", "GB", "GD", "GE", "GF", "GG", "GH", "GI", "GL", "GM",
	"GN", "GP", "GQ", "GR", "GS", "GT", "GU", "GW", "GY",
	"HK", "HM", "HN", "HR", "HT", "HU",
	"ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT",
	"JE", "JM", "JO", "JP",
	"KE", "KG", "KH", "KI", "KM", "KN", "KP", "KR", "KW", "KY",
	"KZ",
	"LA", "LB", "LC", "LI", "LK", "LR", "LS", "LT", "LU", "LV",
	"LY",
	"MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK", "ML", "MM",
	"MN", "MO", "MP", "MQ", "MR", "MS", "MT", "MU", "MV", "MW",
	"MX", "MY", "MZ",
	"NA", "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP", "NR",
	"NU", "NZ",
	"OM",
	"PA", "PE", "PF", "PG", "PH", "PK", "PL", "PM", "PN", "PR",
	"PS", "PT", "PW", "PY",
	"QA",
	"RE", "RO", "RS", "RU", "RW",
	"SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI", "SJ", "SK",
	"SL", "SM", "SN", "SO", "SR", "SS", "ST", "SV", "SX", "SY",
	"SZ",
	"TC", "TD", "TF", "TG", "TH", "TJ", "TK", "TL", "TM", "TN",
	"TO", "TR", "TT", "TV", "TW", "TZ",
	"UA", "UG", "UM", "US", "UY", "UZ",
	"VA", "VC", "VE", "VG", "VI", "VN", "VU",
	"WF", "WS",
	"XK",
	"YE", "YT",
	"ZA", "ZM", "ZW",
};

#define CC_NASSIGNED (sizeof(cc_assigned_tab) / sizeof(cc_assigned_tab[0]))

/* cc_names[cc] is the code as a string, for cc_str(). */
#define CC_ROW(a)							\
	{ a, 'A', 0 }, { a, 'B', 0 }, { a, 'C', 0 }, { a, 'D', 0 },	\
	{ a, 'E', 0 }, { a, 'F', 0 }, { a, 'G', 0 }, { a, 'H', 0 },	\
	{ a, 'I', 0 }, { a, 'J', 0 }, { a, 'K', 0 }, { a, 'L', 0 },	\
	{ a, 'M', 0 }, { a, 'N', 0 }, { a, 'O', 0 }, { a, 'P', 0 },	\
	{ a, 'Q', 0 }, { a, 'R', 0 }, { a, 'S', 0 }, { a, 'T', 0 },	\
	{ a, 'U', 0 }, { a, 'V', 0 }, { a, 'W', 0 }, { a, 'X', 0 },	\
	{ a, 'Y', 0 }, { a, 'Z', 0 }

static const char cc_names[TG_CC_COUNT][3] = {
	CC_ROW('A'), CC_ROW('B'), CC_ROW('C'), CC_ROW('D'), CC_ROW('E'),
	CC_ROW('F'), CC_ROW('G'), CC_ROW('H'), CC_ROW('I'), CC_ROW('J'),
	CC_ROW('K'), CC_ROW('L'), CC_ROW('M'), CC_ROW('N'), CC_ROW('O'),
	CC_ROW('P'), CC_ROW('Q'), CC_ROW('R'), CC_ROW('S'), CC_ROW('T'),
	CC_ROW('U'), CC_ROW('V'), CC_ROW('W'), CC_ROW('X'), CC_ROW('Y'),
	CC_ROW('Z'),
};

static int
cc_cmp(const void *key, const void *elem)
{
	return memcmp(key, elem, 2);
}

bool
cc_assigned(tg_cc cc)
{
	if (cc >= TG_CC_COUNT)
		return false;
	return bsearch(cc_names[cc], cc_assigned_tab, CC_NASSIGNED,
	    sizeof(cc_assigned_tab[0]), cc_cmp) != NULL;
}

int
cc_parse(const char *s, size_t len, tg_cc *out)
{
	tg_cc cc;

	if (s == NULL || len != 2)
		return TG_EINVAL;
	if (s[0] < 'A' || s[0] > 'Z' || s[1] < 'A' || s[1] > 'Z')
		return TG_EINVAL;
	cc = (tg_cc)((s[0] - 'A') * 26 + (s[1] - 'A'));
	if (!cc_assigned(cc))
		return TG_EINVAL;
	*out = cc;
	return 0;
}

void
cc_format(tg_cc cc, char *buf)
{
	if (cc >= TG_CC_COUNT) {
		buf[0] = '\0';
		return;
	}
	buf[0] = cc_names[cc][0];
	buf[1] = cc_names[cc][1];
	buf[2] = '\0';
}

const char *
cc_str(tg_cc cc)
{
	if (cc >= TG_CC_COUNT)
		return "";
	return cc_names[cc];
}
