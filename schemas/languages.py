"""The languages Whisper speaks, with their names: in English, and in the language itself.

Codes are Whisper's (`en`, `de`, `yue`, and `jw` for Javanese, as the model names it); pages and
caption lists show the native name ("Deutsch", "日本語"), as viewers look for their own
language. Pure data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class Language:
    code: str
    name: str  # in English
    native_name: str


# In Whisper's own order (its tokenizer's language tokens); "yue" came with large-v3.
WHISPER_LANGUAGES: Final = tuple(
    Language(code, name, native)
    for code, name, native in (
        ("en", "English", "English"),
        ("zh", "Chinese", "中文"),
        ("de", "German", "Deutsch"),
        ("es", "Spanish", "Español"),
        ("ru", "Russian", "Русский"),
        ("ko", "Korean", "한국어"),
        ("fr", "French", "Français"),
        ("ja", "Japanese", "日本語"),
        ("pt", "Portuguese", "Português"),
        ("tr", "Turkish", "Türkçe"),
        ("pl", "Polish", "Polski"),
        ("ca", "Catalan", "Català"),
        ("nl", "Dutch", "Nederlands"),
        ("ar", "Arabic", "العربية"),
        ("sv", "Swedish", "Svenska"),
        ("it", "Italian", "Italiano"),
        ("id", "Indonesian", "Bahasa Indonesia"),
        ("hi", "Hindi", "हिन्दी"),
        ("fi", "Finnish", "Suomi"),
        ("vi", "Vietnamese", "Tiếng Việt"),
        ("he", "Hebrew", "עברית"),
        ("uk", "Ukrainian", "Українська"),
        ("el", "Greek", "Ελληνικά"),
        ("ms", "Malay", "Bahasa Melayu"),
        ("cs", "Czech", "Čeština"),
        ("ro", "Romanian", "Română"),
        ("da", "Danish", "Dansk"),
        ("hu", "Hungarian", "Magyar"),
        ("ta", "Tamil", "தமிழ்"),
        ("no", "Norwegian", "Norsk"),
        ("th", "Thai", "ไทย"),
        ("ur", "Urdu", "اردو"),
        ("hr", "Croatian", "Hrvatski"),
        ("bg", "Bulgarian", "Български"),
        ("lt", "Lithuanian", "Lietuvių"),
        ("la", "Latin", "Latina"),
        ("mi", "Maori", "Māori"),
        ("ml", "Malayalam", "മലയാളം"),
        ("cy", "Welsh", "Cymraeg"),
        ("sk", "Slovak", "Slovenčina"),
        ("te", "Telugu", "తెలుగు"),
        ("fa", "Persian", "فارسی"),
        ("lv", "Latvian", "Latviešu"),
        ("bn", "Bengali", "বাংলা"),
        ("sr", "Serbian", "Српски"),
        ("az", "Azerbaijani", "Azərbaycanca"),
        ("sl", "Slovenian", "Slovenščina"),
        ("kn", "Kannada", "ಕನ್ನಡ"),
        ("et", "Estonian", "Eesti"),
        ("mk", "Macedonian", "Македонски"),
        ("br", "Breton", "Brezhoneg"),
        ("eu", "Basque", "Euskara"),
        ("is", "Icelandic", "Íslenska"),
        ("hy", "Armenian", "Հայերեն"),
        ("ne", "Nepali", "नेपाली"),
        ("mn", "Mongolian", "Монгол"),
        ("bs", "Bosnian", "Bosanski"),
        ("kk", "Kazakh", "Қазақша"),
        ("sq", "Albanian", "Shqip"),
        ("sw", "Swahili", "Kiswahili"),
        ("gl", "Galician", "Galego"),
        ("mr", "Marathi", "मराठी"),
        ("pa", "Punjabi", "ਪੰਜਾਬੀ"),
        ("si", "Sinhala", "සිංහල"),
        ("km", "Khmer", "ខ្មែរ"),
        ("sn", "Shona", "ChiShona"),
        ("yo", "Yoruba", "Yorùbá"),
        ("so", "Somali", "Soomaali"),
        ("af", "Afrikaans", "Afrikaans"),
        ("oc", "Occitan", "Occitan"),
        ("ka", "Georgian", "ქართული"),
        ("be", "Belarusian", "Беларуская"),
        ("tg", "Tajik", "Тоҷикӣ"),
        ("sd", "Sindhi", "سنڌي"),
        ("gu", "Gujarati", "ગુજરાતી"),
        ("am", "Amharic", "አማርኛ"),
        ("yi", "Yiddish", "ייִדיש"),
        ("lo", "Lao", "ລາວ"),
        ("uz", "Uzbek", "O\u02bbzbekcha"),  # U+02BB, a letter of Uzbek's alphabet
        ("fo", "Faroese", "Føroyskt"),
        ("ht", "Haitian Creole", "Kreyòl ayisyen"),
        ("ps", "Pashto", "پښتو"),
        ("tk", "Turkmen", "Türkmençe"),
        ("nn", "Norwegian Nynorsk", "Nynorsk"),
        ("mt", "Maltese", "Malti"),
        ("sa", "Sanskrit", "संस्कृतम्"),
        ("lb", "Luxembourgish", "Lëtzebuergesch"),
        ("my", "Burmese", "မြန်မာ"),
        ("bo", "Tibetan", "བོད་སྐད་"),
        ("tl", "Tagalog", "Tagalog"),
        ("mg", "Malagasy", "Malagasy"),
        ("as", "Assamese", "অসমীয়া"),
        ("tt", "Tatar", "Татарча"),
        ("haw", "Hawaiian", "\u02bb\u014clelo Hawai\u02bbi"),  # U+02BB, the okina
        ("ln", "Lingala", "Lingála"),
        ("ha", "Hausa", "Hausa"),
        ("ba", "Bashkir", "Башҡортса"),
        ("jw", "Javanese", "Basa Jawa"),
        ("su", "Sundanese", "Basa Sunda"),
        ("yue", "Cantonese", "粵語"),
    )
)

_BY_CODE: Final = {language.code: language for language in WHISPER_LANGUAGES}


def is_whisper_language(code: str) -> bool:
    """Whether Whisper can transcribe speech in `code` (and so caption it again on request)."""
    return code in _BY_CODE


# Variants viewers pick by name: a script or a region, named in the language itself.
VARIANT_NAMES: Final = {
    "pt-BR": "Português (Brasil)",
    "pt-PT": "Português (Portugal)",
    "en-GB": "English (UK)",
    "en-US": "English (US)",
    "es-419": "Español (Latinoamérica)",
    "es-ES": "Español (España)",
    "es-MX": "Español (México)",
    "fr-CA": "Français (Canada)",
    "fr-FR": "Français (France)",
    "de-CH": "Deutsch (Schweiz)",
    "zh-Hans": "中文\uff08简体\uff09",  # full-width parentheses, as Chinese writes them
    "zh-Hant": "中文\uff08繁體\uff09",
    "zh-CN": "中文\uff08中国\uff09",
    "zh-TW": "中文\uff08台灣\uff09",
    "sr-Latn": "Srpski (latinica)",
}


def native_name(code: str) -> str:
    """The language's name in itself ("Deutsch" for "de", "Português (Brasil)" for "pt-BR");
    a variant not named here is its language's name with the rest of the code ("Deutsch (AT)");
    the code itself for a language Whisper lacks."""
    if code in VARIANT_NAMES:
        return VARIANT_NAMES[code]
    base, _, rest = code.partition("-")
    language = _BY_CODE.get(base)
    if language is None:
        return code
    return f"{language.native_name} ({rest})" if rest else language.native_name
