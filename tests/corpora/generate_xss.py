"""Write tests/corpora/xss.txt: the fixed XSS corpus the browser tests render on every surface.

Run ``python tests/corpora/generate_xss.py`` after changing the vectors; the output is committed, so the
tests read a fixed list. The vectors are written here, in the classes of the OWASP XSS Filter Evasion
Cheat Sheet (https://cheatsheetseries.owasp.org/cheatsheets/XSS_Filter_Evasion_Cheat_Sheet.html) and of
PortSwigger's Cross-site scripting cheat sheet (https://portswigger.net/web-security/cross-site-scripting/cheat-sheet):
script tags and their spellings, event handlers that fire without a click (onerror, onload, onfocus with
autofocus, ontoggle, onbegin, onanimationstart...), javascript: and data: URLs, srcdoc, context break-outs
(attribute, textarea, title, style, script, comment), entity and escape encodings, parser confusions
(mXSS through math/noscript, nested and broken tags) and template-injection strings.

Every payload calls back with its own number (its line in the file, ``§`` below): ``xss(n)`` where the test
page defines it, or ``alert``/``confirm``/``prompt`` caught as dialogs. The number names the payload that
ran, should one ever run. Each fits in 120 characters, the shortest field it is stored in (a category name).
"""

from __future__ import annotations

import base64
from pathlib import Path

MAX_CHARS = 120
OUT = Path(__file__).with_name("xss.txt")

# Hand-written vectors, one idea each.
SINGLE = [
    "<script>xss(§)</script>",
    "<SCRIPT>xss(§)</SCRIPT>",
    "<ScRiPt>xss(§)</sCrIpT>",
    "<script >xss(§)</script >",
    "<script/x>xss(§)</script>",
    "<script\tsrc=data:,xss(§)></script>",
    "<script src=data:,xss(§)></script>",
    '<script src="data:text/javascript,xss(§)"></script>',
    "<script>eval('xss(§)')</script>",
    "<script>setTimeout('xss(§)')</script>",
    "<script>Function('xss(§)')()</script>",
    "<script>xss`§`</script>",
    "<script>[§].map(xss)</script>",
    "<script>onerror=xss;throw §</script>",
    "<script>window['x'+'ss'](§)</script>",
    "<script>\\u0078ss(§)</script>",
    "<script>import('data:text/javascript,xss(§)')</script>",
    "<script>alert(§)</script>",
    "<script>confirm(§)</script>",
    "<script>prompt(§)</script>",
    "<script>top.xss(§)</script>",
    "<script>self['xss'](§)</script>",
    "<script>(xss)(§)</script>",
    "<script>new Function`xss(§)```</script>",
    "<<script>xss(§)//<</script>",
    "<scr<script>ipt>xss(§)</scr</script>ipt>",
    "<script>/*</script><svg onload=xss(§)>*/</script>",
    '<img """><script>xss(§)</script>">',
    "<img src=x onerror=xss(§)>",
    '<img src=x onerror="xss(§)">',
    "<img src=x onerror='xss(§)'>",
    "<img/src/onerror=xss(§)>",
    "<IMG SRC=x OnErRoR=xss(§)>",
    "<img src=x onerror=&#x78;ss(§)>",
    "<img src=x onerror=&#120;&#115;&#115;(§)>",
    "<img src=x onerror=\\u0078ss(§)>",
    "<img src=x onerror=alert(§)>",
    "<img src=x onerror=confirm(§)>",
    "<img src=`x`onerror=xss(§)>",
    "<img srcset=x onerror=xss(§)>",
    "<image src=x onerror=xss(§)>",
    "<picture><source srcset=x><img src=x onerror=xss(§)></picture>",
    "<input type=image src=x onerror=xss(§)>",
    "<svg onload=xss(§)>",
    "<svg/onload=xss(§)>",
    "<svg><script>xss(§)</script></svg>",
    "<svg><script href=data:,xss(§) />",
    "<svg><animate onbegin=xss(§) attributeName=x dur=1s>",
    "<svg><set onbegin=xss(§) attributeName=x to=1>",
    "<svg><a><animate attributeName=href values=javascript:xss(§) /><text y=20>x</text></a>",
    "<svg><image href=x onerror=xss(§) />",
    "<body onload=xss(§)>",
    "<body onpageshow=xss(§)>",
    "<frameset onload=xss(§)>",
    "<iframe onload=xss(§)>",
    '<iframe src="javascript:xss(§)">',
    "<iframe src=javascript:top.xss(§)>",
    '<iframe srcdoc="<script>xss(§)</script>">',
    '<iframe srcdoc="&lt;img src=x onerror=xss(§)&gt;">',
    '<object data="javascript:xss(§)">',
    '<object data="data:text/html,<script>xss(§)</script>">',
    '<embed src="data:text/html,<script>xss(§)</script>">',
    '<embed src="javascript:xss(§)">',
    "<input autofocus onfocus=xss(§)>",
    "<select autofocus onfocus=xss(§)>",
    "<textarea autofocus onfocus=xss(§)>",
    "<keygen autofocus onfocus=xss(§)>",
    "<xss autofocus tabindex=1 onfocus=xss(§)></xss>",
    "<button autofocus onfocusin=xss(§)>x</button>",
    "<details open ontoggle=xss(§)>",
    "<details/open/ontoggle=xss(§)>",
    "<video src=x onerror=xss(§)>",
    "<video><source onerror=xss(§)>",
    "<audio src=x onerror=xss(§)>",
    "<marquee onstart=xss(§)>x</marquee>",
    "<style onload=xss(§)>*{}</style>",
    "<link rel=stylesheet href=x onerror=xss(§)>",
    "<style>@keyframes a{}</style><b style=animation-name:a onanimationstart=xss(§)>",
    "<style>@keyframes b{}</style><i style=animation:b onanimationend=xss(§)>",
    "<math><mtext><table><mglyph><style><img src=x onerror=xss(§)>",
    '<noscript><p title="</noscript><img src=x onerror=xss(§)>">',
    "<form><button formaction=javascript:xss(§)>x</button></form>",
    '<a href="javascript:xss(§)">x</a>',
    '<a href="jAvAsCrIpT:xss(§)">x</a>',
    '<a href="java&#x09;script:xss(§)">x</a>',
    '<a href=" javascript:xss(§)">x</a>',
    '<a href="data:text/html,<script>xss(§)</script>">x</a>',
    '<base href="javascript:/a/-xss(§)///////"><a href=../x>x</a>',
    '<meta http-equiv="refresh" content="0;url=javascript:xss(§)">',
    "<isindex type=image src=1 onerror=xss(§)>",
    '<table background="javascript:xss(§)">',
    "<div onpointerover=xss(§)>x</div>",
    "<x contenteditable onblur=xss(§)>x</x>",
    "<img src=x onerror=eval(atob('{b64}'))>",
    "{{{{constructor.constructor('xss(§)')()}}}}",
    "${{xss(§)}}",
    "#{{xss(§)}}",
    "{{{{7*7}}}}<script>xss(§)</script>",
    "javascript:xss(§)",
    "data:text/html,<script>xss(§)</script>",
    "'-xss(§)-'",
    '";xss(§);//',
    "\\';xss(§);//",
    '" onmouseover="xss(§)',
    "' autofocus onfocus='xss(§)",
    '" autofocus onfocus="xss(§)',
    "%3Cscript%3Exss(§)%3C/script%3E",
    "&lt;script&gt;xss(§)&lt;/script&gt;",
    "\\x3cscript\\x3exss(§)\\x3c/script\\x3e",
    "<!--<img src=--><img src=x onerror=xss(§)//-->",
    "<![CDATA[<script>xss(§)</script>]]>",
    "<?xml version=1?><script>xss(§)</script>",
    "<plaintext><script>xss(§)</script>",
    "<xmp><script>xss(§)</script></xmp><img src=x onerror=xss(§)>",
    "<template><script>xss(§)</script></template><svg onload=xss(§)>",
    "<object type=image/svg+xml data=data:image/svg+xml,<svg/onload=top.xss(§)>>",
]

# Where a value might land in a page, and the text that would leave that place.
BREAKOUTS = ["", '">', "'>", "</textarea>", "</title>", "</style>", "</script>", "-->", "</noscript>",
             "</option></select>", '"></a>', "</template>", "]]>", "</iframe>"]
# Vectors that fire with no click once parsed as HTML.
AUTOMATIC = [
    "<img src=x onerror=xss(§)>",
    "<svg onload=xss(§)>",
    "<details open ontoggle=xss(§)>",
    "<input autofocus onfocus=xss(§)>",
    "<script>xss(§)</script>",
    "<video><source onerror=xss(§)>",
    '<iframe srcdoc="<script>xss(§)</script>">',
    "<style>@keyframes x{}</style><p style=animation-name:x onanimationstart=xss(§)>",
]
# Spellings of the same img/svg vector: separators, handler case and how its value is quoted or encoded.
SEPARATORS = [" ", "/", "\t"]
HANDLER_CASES = ["onerror", "OnErRoR", "ONERROR"]
VALUES = ["xss(§)", '"xss(§)"', "'xss(§)'", "&#x78;&#x73;&#x73;(§)"]


def vectors() -> list[str]:
    found = list(SINGLE)
    found += [prefix + vector for prefix in BREAKOUTS for vector in AUTOMATIC]
    for separator in SEPARATORS:
        for handler in HANDLER_CASES:
            for value in VALUES:
                found.append(f"<img{separator}src=x{separator}{handler}={value}>")
                found.append(f"<svg{separator}{handler.replace('error', 'load').replace('ERROR', 'LOAD')}={value}>")
    return found


def numbered(templates: list[str]) -> list[str]:
    payloads: list[str] = []
    for template in templates:
        number = str(len(payloads) + 1)
        b64 = base64.b64encode(f"xss({number})".encode()).decode()
        payload = template.replace("{b64}", b64).replace("{{", "{").replace("}}", "}").replace("§", number)
        if len(payload) <= MAX_CHARS and payload not in payloads:
            payloads.append(payload)
    return payloads


def main() -> None:
    payloads = numbered(vectors())
    assert all("\n" not in p and "\r" not in p for p in payloads)
    header = [
        "# XSS payloads rendered by tests/corpora/test_xss_browser.py; written by generate_xss.py (sources there).",
        "# One per line; each calls xss(n), alert(n), confirm(n) or prompt(n) with its own n should it ever run.",
    ]
    OUT.write_text("\n".join(header + payloads) + "\n", encoding="utf-8")
    print(f"{len(payloads)} payloads written to {OUT}")


if __name__ == "__main__":
    main()
