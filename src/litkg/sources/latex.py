"""Plain-text normalisation of the LaTeX found in arXiv titles and abstracts.

`normalise_latex` turns the snapshot's LaTeX-flavoured text into plain Unicode text for entity and
relation extraction. It is pure and total (never raises) and is a best effort, not a TeX engine:

- math delimiters (`$..$`, `$$..$$`, `\\(..\\)`, `\\[..\\]`) are dropped, their content kept; inside
  math, sub/superscript markers and their braces go (`H_2O` -> `H2O`, `10^{-3}` -> `10-3`, the
  way PubMed's `<sub>`/`<sup>` flatten), `^\\circ` -> `°`;
- Greek letters and common symbols become Unicode (`\\alpha` -> `α`, `\\le` -> `≤`, `\\to` -> `→`);
- accents compose (`\\'a`, `\\'{a}`, `{\\"o}`, `\\v{s}`, `\\c{c}` -> `á ö š ç`);
- formatting commands keep their argument (`\\emph{x}`, `\\textbf{x}`, `\\mathrm{x}` -> `x`), font
  switches (`{\\em x}`, `\\rm`) vanish, `\\frac{a}{b}` -> `a/b`, `\\href{u}{t}` -> `t`;
- citations, references, labels and footnotes are removed (`\\cite{..}`, `\\ref{..}`);
- `---` -> `—`, `--` -> `–`, `~` -> space, ``` `` ``` and `''` -> `"`, escaped `\\$ \\% \\& \\# \\_`
  -> the character; an unknown macro keeps its name (`\\msun` -> `msun`), leftover braces go;
- whitespace, including the snapshot's hard line wraps, collapses to single spaces; a word broken
  after a hyphen at a line end is rejoined (`long-\\nterm` -> `long-term`).
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["normalise_latex"]

_GREEK = {
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ϵ", "varepsilon": "ε",
    "zeta": "ζ", "eta": "η", "theta": "θ", "vartheta": "ϑ", "iota": "ι", "kappa": "κ",
    "lambda": "λ", "mu": "μ", "nu": "ν", "xi": "ξ", "omicron": "ο", "pi": "π", "varpi": "ϖ",
    "rho": "ρ", "varrho": "ϱ", "sigma": "σ", "varsigma": "ς", "tau": "τ", "upsilon": "υ",
    "phi": "ϕ", "varphi": "φ", "chi": "χ", "psi": "ψ", "omega": "ω",
    "Gamma": "Γ", "Delta": "Δ", "Theta": "Θ", "Lambda": "Λ", "Xi": "Ξ", "Pi": "Π",
    "Sigma": "Σ", "Upsilon": "Υ", "Phi": "Φ", "Psi": "Ψ", "Omega": "Ω",
}  # fmt: skip

_SYMBOLS = {
    **_GREEK,
    "ell": "ℓ", "hbar": "ħ", "infty": "∞", "partial": "∂", "nabla": "∇", "pm": "±", "mp": "∓",
    "times": "×", "cdot": "·", "cdots": "⋯", "ldots": "…", "dots": "…", "div": "÷",
    "le": "≤", "leq": "≤", "leqslant": "≤", "ge": "≥", "geq": "≥", "geqslant": "≥",
    "ne": "≠", "neq": "≠", "approx": "≈", "simeq": "≃", "sim": "∼", "cong": "≅",
    "equiv": "≡", "propto": "∝", "lesssim": "≲", "gtrsim": "≳", "ll": "≪", "gg": "≫",
    "to": "→", "rightarrow": "→", "longrightarrow": "⟶", "leftarrow": "←", "gets": "←",
    "leftrightarrow": "↔", "Rightarrow": "⇒", "Leftarrow": "⇐", "Leftrightarrow": "⇔",
    "mapsto": "↦", "uparrow": "↑", "downarrow": "↓", "iff": "⇔", "implies": "⇒",
    "sum": "∑", "prod": "∏", "int": "∫", "oint": "∮", "sqrt": "√",
    "in": "∈", "notin": "∉", "ni": "∋", "subset": "⊂", "subseteq": "⊆", "supset": "⊃",
    "supseteq": "⊇", "cup": "∪", "cap": "∩", "setminus": "∖", "emptyset": "∅",
    "varnothing": "∅", "forall": "∀", "exists": "∃", "neg": "¬", "lnot": "¬", "wedge": "∧",
    "land": "∧", "vee": "∨", "lor": "∨", "oplus": "⊕", "otimes": "⊗", "circ": "∘",
    "bullet": "•", "star": "⋆", "ast": "∗", "dagger": "†", "ddagger": "‡", "prime": "′",
    "degree": "°", "parallel": "∥", "perp": "⊥", "angle": "∠", "langle": "⟨", "rangle": "⟩",
    "mid": "|", "vert": "|", "Vert": "‖", "aleph": "ℵ", "Re": "ℜ", "Im": "ℑ", "wp": "℘",
    "AA": "Å", "aa": "å", "ss": "ß", "o": "ø", "O": "Ø", "ae": "æ", "AE": "Æ", "oe": "œ",
    "OE": "Œ", "l": "ł", "L": "Ł", "i": "i", "j": "j", "S": "§", "P": "¶",
    "copyright": "©", "textregistered": "®", "texttrademark": "™", "textdegree": "°",
    "LaTeX": "LaTeX", "TeX": "TeX", "backslash": "\ue007", "textbackslash": "\ue007",
    "odot": "⊙", "sun": "☉", "earth": "⊕", "micro": "µ",
    "lbrace": "{", "rbrace": "}", "textless": "<", "textgreater": ">",
}  # fmt: skip

# commands that only switch fonts or size, or adjust spacing/sizing in math: dropped
_DROP = set(
    "em it bf rm sf tt sc sl cal bfseries itshape mdseries normalfont upshape slshape scshape "
    "rmfamily sffamily ttfamily tiny scriptsize footnotesize small normalsize large Large LARGE "
    "huge Huge left right big Big bigg Bigg bigl bigr Bigl Bigr biggl biggr displaystyle "
    "textstyle scriptstyle limits nolimits relax protect nonumber notag".split()
)
_SPACE = set(
    "quad qquad enspace thinspace medspace thickspace linebreak newline par noindent "
    "centering".split()
)

# commands whose (last) braced argument is removed with them
_REMOVE_ARG = (
    r"cite[a-zA-Z]*|nocite|ref|eqref|autoref|cref|Cref|pageref|label|footnote|footnotemark"
    r"|thanks|hspace|vspace|phantom|hphantom|vphantom|bibitem"
)
# commands replaced by their argument
_KEEP_ARG = (
    r"emph|text[a-z]*|math[a-z]*|mbox|hbox|fbox|boldsymbol|bm|pmb|operatorname|underline"
    r"|overline|widetilde|widehat|tilde|hat|bar|vec|dot|ddot|check|breve|acute|grave|mathring"
    r"|ensuremath|uppercase|lowercase|url|textsuperscript|textsubscript|underbrace|overbrace"
    r"|sout|uline|cal|scr|frak|Bbb|rm|bf|it|sf|tt|sc|em|nolinkurl|mathversion|smash"
)

_ACCENTS = {
    "'": "\u0301", "`": "\u0300", "^": "\u0302", '"': "\u0308", "~": "\u0303", "=": "\u0304",
    ".": "\u0307", "u": "\u0306", "v": "\u030c", "H": "\u030b", "c": "\u0327", "k": "\u0328",
    "r": "\u030a", "b": "\u0331", "d": "\u0323",
}  # fmt: skip

_ESCAPES = {"$": "\ue000", "%": "\ue001", "&": "\ue002", "#": "\ue003", "_": "\ue004",
            "{": "\ue005", "}": "\ue006", " ": " "}  # fmt: skip
_UNESCAPE = {v: k for k, v in _ESCAPES.items() if k != " "}
_UNESCAPE["\ue007"] = "\\"

_BRACED = r"\{([^{}]*)\}"
_ESCAPE_RE = re.compile(r"\\([$%&#_{} ])")
_ACCENT_SYM_RE = re.compile(r"\\(['`^\"~=.])\s*(?:\{\s*(\\?[A-Za-z])\s*\}|(\\?[A-Za-z]))")
_ACCENT_LET_RE = re.compile(r"\\([uvHckrbd])(?:\s*\{\s*(\\?[A-Za-z])\s*\}|\s+([A-Za-z]))")
_REMOVE_RE = re.compile(r"\s*~?\\(?:" + _REMOVE_ARG + r")\*?\s*(?:\[[^\]]*\]\s*)*" + _BRACED)
_HREF_RE = re.compile(r"\\href\s*" + _BRACED + r"\s*" + _BRACED)
_FRAC_RE = re.compile(r"\\[dt]?frac\s*" + _BRACED + r"\s*" + _BRACED)
_SQRT_RE = re.compile(r"\\sqrt\s*(?:\[[^\]]*\]\s*)?" + _BRACED)
_KEEP_RE = re.compile(r"\\(?:" + _KEEP_ARG + r")\*?\s*" + _BRACED)
_MATH_RE = re.compile(r"\$\$(.+?)\$\$|\$(.+?)\$|\\\((.+?)\\\)|\\\[(.+?)\\\]", re.S)
_DEGREE_RE = re.compile(r"\^\s*\{?\s*\\circ\s*\}?")
_SUBSUP_RE = re.compile(r"[_^]\s*(?:" + _BRACED + r"|(\\[A-Za-z]+|[^\s{}\\]))")
_COMMAND_RE = re.compile(r"\\([A-Za-z]+)\*?([ \t]*)|\\([,;:!> \-/@()\[\]|])|\\\\(?:\[[^\]]*\])?")
_HYPHEN_WRAP_RE = re.compile(r"(?<=[A-Za-z])-[ \t]*\n\s*(?=[A-Za-z])")
_WS_RE = re.compile(r"\s+")


def _accent(mark: str, base: str) -> str:
    base = {"\\i": "i", "\\j": "j"}.get(base, base)
    if base.startswith("\\"):
        return base
    return unicodedata.normalize("NFC", base + _ACCENTS[mark])


def _command(m: re.Match[str]) -> str:
    name = m.group(1)
    if name is None:
        other = m.group(3)
        if other is None:  # "\\\\" line break
            return " "
        return " " if other in ",;:!> " else ("‖" if other == "|" else "")
    if name in _DROP:
        return ""  # a font or size switch takes the space after it with it
    if name in _SPACE:
        return " "
    return _SYMBOLS.get(name, name) + m.group(2)


def _math(m: re.Match[str]) -> str:
    body = next(g for g in m.groups() if g is not None)
    body = _COMMAND_RE.sub(_command, _DEGREE_RE.sub("°", body))  # before "\\nu_e" -> "\\nue"
    prev = None
    while prev != body:
        prev = body
        body = _SUBSUP_RE.sub(lambda s: s.group(1) if s.group(1) is not None else s.group(2), body)
    return body


def _fixpoint(pattern: re.Pattern[str], repl: str, text: str) -> str:
    prev = None
    while prev != text:
        prev = text
        text = pattern.sub(repl, text)
    return text


def normalise_latex(text: str | None) -> str:
    """Plain Unicode text for extraction from LaTeX-flavoured `text` ("" for None/empty)."""
    if not text:
        return ""
    s = _HYPHEN_WRAP_RE.sub("-", text)
    s = _ESCAPE_RE.sub(lambda m: _ESCAPES[m.group(1)], s)
    s = _ACCENT_SYM_RE.sub(lambda m: _accent(m.group(1), m.group(2) or m.group(3)), s)
    s = _ACCENT_LET_RE.sub(lambda m: _accent(m.group(1), m.group(2) or m.group(3)), s)
    s = s.replace("~", " ")
    s = _fixpoint(_REMOVE_RE, "", s)
    s = _fixpoint(_HREF_RE, r"\2", s)
    s = _fixpoint(_KEEP_RE, r"\1", s)
    s = _fixpoint(_FRAC_RE, r"\1/\2", s)
    s = _fixpoint(_SQRT_RE, r"√\1", s)
    s = _MATH_RE.sub(_math, s)
    s = s.replace("$", "")
    s = _COMMAND_RE.sub(_command, s)
    s = s.replace("---", "—").replace("--", "–").replace("``", '"').replace("''", '"')
    s = s.replace("{", "").replace("}", "").replace("\\", "")
    for placeholder, char in _UNESCAPE.items():
        s = s.replace(placeholder, char)
    return _WS_RE.sub(" ", s).strip()
