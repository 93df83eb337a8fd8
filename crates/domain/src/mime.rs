//! MIME detection as MediaWiki 1.39 does it (SPEC §7.4): content sniffing (`file-mime`),
//! the improvement by extension (`mime`), the MIME ↔ extension map, media types, and the
//! emulation of old Internet Explorer sniffing used by the upload checks (§7.1 step 3).

use std::io::{self, Read, Seek, SeekFrom};
use std::sync::OnceLock;

use crate::io::{read_full, read_head, Content, ContentReader};
use crate::xml::xml_root_element;

/// The MIME type of content nobody recognised.
pub const UNKNOWN_MIME: &str = "unknown/unknown";

/// MIME type → extensions, first = preferred. The order of the rows matters: an
/// extension's MIME types are listed in row order.
const MIME_EXTENSIONS: &[(&str, &[&str])] = &[
    (
        "application/ogg",
        &["ogx", "ogg", "ogm", "ogv", "oga", "spx", "opus"],
    ),
    ("application/pdf", &["pdf"]),
    ("application/vnd.ms-opentype", &["otf"]),
    ("application/vnd.oasis.opendocument.chart", &["odc"]),
    (
        "application/vnd.oasis.opendocument.chart-template",
        &["otc"],
    ),
    ("application/vnd.oasis.opendocument.database", &["odb"]),
    ("application/vnd.oasis.opendocument.formula", &["odf"]),
    (
        "application/vnd.oasis.opendocument.formula-template",
        &["otf"],
    ),
    ("application/vnd.oasis.opendocument.graphics", &["odg"]),
    (
        "application/vnd.oasis.opendocument.graphics-template",
        &["otg"],
    ),
    ("application/vnd.oasis.opendocument.image", &["odi"]),
    (
        "application/vnd.oasis.opendocument.image-template",
        &["oti"],
    ),
    ("application/vnd.oasis.opendocument.presentation", &["odp"]),
    (
        "application/vnd.oasis.opendocument.presentation-template",
        &["otp"],
    ),
    ("application/vnd.oasis.opendocument.spreadsheet", &["ods"]),
    (
        "application/vnd.oasis.opendocument.spreadsheet-template",
        &["ots"],
    ),
    ("application/vnd.oasis.opendocument.text", &["odt"]),
    (
        "application/vnd.oasis.opendocument.text-master",
        &["otm", "odm"],
    ),
    ("application/vnd.oasis.opendocument.text-template", &["ott"]),
    ("application/vnd.oasis.opendocument.text-web", &["oth"]),
    ("application/javascript", &["js"]),
    ("application/x-shockwave-flash", &["swf"]),
    ("audio/midi", &["mid", "midi", "kar"]),
    ("audio/mpeg", &["mpga", "mpa", "mp2", "mp3"]),
    ("audio/x-aiff", &["aif", "aiff", "aifc"]),
    ("audio/x-wav", &["wav"]),
    ("audio/ogg", &["oga", "spx", "ogg", "opus"]),
    ("audio/opus", &["opus", "ogg", "oga", "spx"]),
    ("image/x-bmp", &["bmp"]),
    ("image/gif", &["gif"]),
    ("image/jpeg", &["jpeg", "jpg", "jpe", "jps"]),
    ("image/png", &["png", "apng"]),
    ("image/svg+xml", &["svg"]),
    ("image/svg", &["svg"]),
    ("image/tiff", &["tiff", "tif"]),
    ("image/vnd.djvu", &["djvu", "djv"]),
    ("image/x.djvu", &["djvu"]),
    ("image/x-djvu", &["djvu"]),
    ("image/x-portable-pixmap", &["ppm"]),
    ("image/x-xcf", &["xcf"]),
    ("text/plain", &["txt"]),
    ("text/html", &["html", "htm"]),
    ("video/ogg", &["ogv", "ogm", "ogg"]),
    ("video/mpeg", &["mpg", "mpeg", "mpe"]),
    ("application/acad", &["dwg"]),
    ("application/andrew-inset", &["ez"]),
    ("application/mac-binhex40", &["hqx"]),
    ("application/mac-compactpro", &["cpt"]),
    ("application/mathml+xml", &["mathml"]),
    ("application/msword", &["doc", "dot"]),
    (
        "application/octet-stream",
        &["bin", "dms", "lha", "lzh", "exe", "class", "so", "dll"],
    ),
    ("application/oda", &["oda"]),
    ("application/postscript", &["ai", "eps", "ps"]),
    ("application/rdf+xml", &["rdf"]),
    ("application/smil", &["smi", "smil"]),
    ("application/srgs", &["gram"]),
    ("application/srgs+xml", &["grxml"]),
    ("application/vnd.mif", &["mif"]),
    ("application/vnd.ms-excel", &["xls", "xlt", "xla"]),
    (
        "application/vnd.ms-powerpoint",
        &["ppt", "pot", "pps", "ppa"],
    ),
    ("application/vnd.wap.wbxml", &["wbxml"]),
    ("application/vnd.wap.wmlc", &["wmlc"]),
    ("application/vnd.wap.wmlscriptc", &["wmlsc"]),
    ("application/voicexml+xml", &["vxml"]),
    ("application/x-7z-compressed", &["7z"]),
    ("application/x-bcpio", &["bcpio"]),
    ("application/x-bzip", &["bz"]),
    ("application/x-bzip2", &["bz2"]),
    ("application/x-cdlink", &["vcd"]),
    ("application/x-chess-pgn", &["pgn"]),
    ("application/x-cpio", &["cpio"]),
    ("application/x-csh", &["csh"]),
    ("application/x-dia-diagram", &["dia"]),
    ("application/x-director", &["dcr", "dir", "dxr"]),
    ("application/x-dvi", &["dvi"]),
    ("application/x-futuresplash", &["spl"]),
    ("application/x-gtar", &["gtar", "tar"]),
    ("application/x-gzip", &["gz"]),
    ("application/x-hdf", &["hdf"]),
    ("application/x-jar", &["jar"]),
    ("application/json", &["json"]),
    ("application/x-koan", &["skp", "skd", "skt", "skm"]),
    ("application/x-latex", &["latex"]),
    ("application/x-netcdf", &["nc", "cdf"]),
    ("application/x-sh", &["sh"]),
    ("application/x-shar", &["shar"]),
    ("application/x-stuffit", &["sit"]),
    ("application/x-sv4cpio", &["sv4cpio"]),
    ("application/x-sv4crc", &["sv4crc"]),
    ("application/x-tar", &["tar"]),
    ("application/x-tcl", &["tcl"]),
    ("application/x-tex", &["tex"]),
    ("application/x-texinfo", &["texinfo", "texi"]),
    ("application/x-troff", &["t", "tr", "roff"]),
    ("application/x-troff-man", &["man"]),
    ("application/x-troff-me", &["me"]),
    ("application/x-troff-ms", &["ms"]),
    ("application/x-ustar", &["ustar"]),
    ("application/x-wais-source", &["src"]),
    ("application/x-xpinstall", &["xpi"]),
    ("application/xhtml+xml", &["xhtml", "xht"]),
    ("application/xslt+xml", &["xslt"]),
    ("application/xml", &["xml", "xsl", "xsd", "kml"]),
    ("application/xml-dtd", &["dtd"]),
    (
        "application/zip",
        &[
            "zip", "jar", "xpi", "sxc", "stc", "sxd", "std", "sxi", "sti", "sxm", "stm", "sxw",
            "stw",
        ],
    ),
    ("application/x-rar", &["rar"]),
    ("font/sfnt", &["ttf"]),
    ("application/font-sfnt", &["ttf"]),
    ("font/woff", &["woff"]),
    ("application/font-woff", &["woff"]),
    ("font/woff2", &["woff2"]),
    ("application/font-woff2", &["woff2"]),
    ("application/vnd.ms-fontobject", &["eot"]),
    ("application/x-font-ttf", &["ttf"]),
    ("audio/basic", &["au", "snd"]),
    ("video/webm", &["webm"]),
    ("audio/webm", &["webm"]),
    ("audio/x-matroska", &["mka", "mkv"]),
    ("audio/x-mpegurl", &["m3u"]),
    ("audio/x-ogg", &["oga", "ogg", "spx", "opus"]),
    ("audio/x-pn-realaudio", &["ram", "rm"]),
    ("audio/x-pn-realaudio-plugin", &["rpm"]),
    ("audio/x-realaudio", &["ra"]),
    ("audio/wav", &["wav"]),
    ("audio/x-flac", &["flac"]),
    ("audio/flac", &["flac"]),
    ("chemical/x-pdb", &["pdb"]),
    ("chemical/x-xyz", &["xyz"]),
    ("image/bmp", &["bmp"]),
    ("image/cgm", &["cgm"]),
    ("image/ief", &["ief"]),
    ("image/jp2", &["jp2", "j2k", "jpg2"]),
    ("image/jpx", &["jpf", "jpx"]),
    ("image/vnd.microsoft.icon", &["ico"]),
    ("image/vnd.wap.wbmp", &["wbmp"]),
    ("image/webp", &["webp"]),
    ("image/x-cmu-raster", &["ras"]),
    ("image/x-icon", &["ico"]),
    ("image/x-jps", &["jps"]),
    ("image/x-ms-bmp", &["bmp"]),
    ("image/x-portable-anymap", &["pnm"]),
    ("image/x-portable-bitmap", &["pbm"]),
    ("image/x-portable-graymap", &["pgm"]),
    ("image/x-rgb", &["rgb"]),
    ("image/x-photoshop", &["psd"]),
    ("image/x-xbitmap", &["xbm"]),
    ("image/x-xpixmap", &["xpm"]),
    ("image/x-xwindowdump", &["xwd"]),
    ("model/iges", &["igs", "iges"]),
    ("model/mesh", &["msh", "mesh", "silo"]),
    ("model/vrml", &["wrl", "vrml"]),
    ("text/calendar", &["ics", "ifb"]),
    ("text/css", &["css"]),
    ("text/csv", &["csv"]),
    ("text/richtext", &["rtx"]),
    ("text/rtf", &["rtf"]),
    ("text/sgml", &["sgml", "sgm"]),
    ("text/tab-separated-values", &["tsv"]),
    ("text/vnd.wap.wml", &["wml"]),
    ("text/vnd.wap.wmlscript", &["wmls"]),
    ("text/xml", &["xml", "xsl", "xslt", "rss", "rdf"]),
    ("text/x-component", &["htc"]),
    ("text/x-setext", &["etx"]),
    ("text/x-sawfish", &["jl"]),
    ("video/mp4", &["mp4", "m4a", "m4p", "m4b", "m4r", "m4v"]),
    ("audio/mp4", &["m4a"]),
    ("video/quicktime", &["qt", "mov"]),
    ("video/vnd.mpegurl", &["mxu"]),
    ("video/x-flv", &["flv"]),
    ("video/x-matroska", &["mkv", "mka"]),
    ("video/x-msvideo", &["avi"]),
    ("video/x-ogg", &["ogv", "ogm", "ogg"]),
    ("video/x-sgi-movie", &["movie"]),
    ("x-conference/x-cooltalk", &["ice"]),
    (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        &["docx"],
    ),
    (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.template",
        &["dotx"],
    ),
    (
        "application/vnd.ms-word.document.macroenabled.12",
        &["docm"],
    ),
    (
        "application/vnd.ms-word.template.macroenabled.12",
        &["dotm"],
    ),
    (
        "application/vnd.openxmlformats-officedocument.presentationml.template",
        &["potx"],
    ),
    (
        "application/vnd.openxmlformats-officedocument.presentationml.slideshow",
        &["ppsx"],
    ),
    (
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        &["pptx"],
    ),
    (
        "application/vnd.ms-powerpoint.addin.macroenabled.12",
        &["ppam"],
    ),
    (
        "application/vnd.ms-powerpoint.presentation.macroenabled.12",
        &["pptm", "potm"],
    ),
    (
        "application/vnd.ms-powerpoint.slideshow.macroenabled.12",
        &["ppsm"],
    ),
    (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        &["xlsx"],
    ),
    (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.template",
        &["xltx"],
    ),
    ("application/vnd.ms-excel.sheet.macroenabled.12", &["xlsm"]),
    (
        "application/vnd.ms-excel.template.macroenabled.12",
        &["xltm"],
    ),
    ("application/vnd.ms-excel.addin.macroenabled.12", &["xlam"]),
    (
        "application/vnd.ms-excel.sheet.binary.macroenabled.12",
        &["xlsb"],
    ),
    ("model/vnd.dwfx+xps", &["dwfx"]),
    ("application/vnd.ms-xpsdocument", &["xps"]),
    ("chemical/x-mdl-molfile", &["mol"]),
    ("chemical/x-mdl-sdfile", &["sdf"]),
    ("chemical/x-mdl-rxnfile", &["rxn"]),
    ("chemical/x-mdl-rdfile", &["rd"]),
    ("chemical/x-mdl-rgfile", &["rg"]),
    ("application/x-amf", &["amf"]),
    ("application/sla", &["stl"]),
    ("application/wasm", &["wasm"]),
    // Vague pseudo-types last, so that they do not win for their extensions.
    (
        "application/x-opc+zip",
        &[
            "docx", "dotx", "docm", "dotm", "potx", "ppsx", "pptx", "ppam", "pptm", "potm", "ppsm",
            "xlsx", "xltx", "xlsm", "xltm", "xlam", "xlsb", "dwfx", "xps",
        ],
    ),
    (
        "application/vnd.oasis.opendocument",
        &[
            "odt", "ott", "odg", "otg", "odp", "otp", "ods", "ots", "odc", "otc", "odi", "oti",
            "odf", "otf", "odm", "oth",
        ],
    ),
];

/// Media type → MIME types, in MediaWiki's lookup order.
const MEDIA_TYPES: &[(&str, &[&str])] = &[
    (
        "OFFICE",
        &[
            "application/pdf",
            "application/vnd.oasis.opendocument.chart",
            "application/vnd.oasis.opendocument.chart-template",
            "application/vnd.oasis.opendocument.database",
            "application/vnd.oasis.opendocument.formula",
            "application/vnd.oasis.opendocument.formula-template",
            "application/vnd.oasis.opendocument.graphics",
            "application/vnd.oasis.opendocument.graphics-template",
            "application/vnd.oasis.opendocument.image",
            "application/vnd.oasis.opendocument.image-template",
            "application/vnd.oasis.opendocument.presentation",
            "application/vnd.oasis.opendocument.presentation-template",
            "application/vnd.oasis.opendocument.spreadsheet",
            "application/vnd.oasis.opendocument.spreadsheet-template",
            "application/vnd.oasis.opendocument.text",
            "application/vnd.oasis.opendocument.text-template",
            "application/vnd.oasis.opendocument.text-master",
            "application/vnd.oasis.opendocument.text-web",
            "application/acrobat",
            "application/msword",
            "application/vnd.ms-excel",
            "application/vnd.ms-powerpoint",
            "application/x-director",
            "image/vnd.djvu",
            "image/x.djvu",
            "image/x-djvu",
            "text/rtf",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.template",
            "application/vnd.ms-word.document.macroenabled.12",
            "application/vnd.ms-word.template.macroenabled.12",
            "application/vnd.openxmlformats-officedocument.presentationml.template",
            "application/vnd.openxmlformats-officedocument.presentationml.slideshow",
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
            "application/vnd.ms-powerpoint.addin.macroenabled.12",
            "application/vnd.ms-powerpoint.presentation.macroenabled.12",
            "application/vnd.ms-powerpoint.slideshow.macroenabled.12",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.template",
            "application/vnd.ms-excel.sheet.macroenabled.12",
            "application/vnd.ms-excel.template.macroenabled.12",
            "application/vnd.ms-excel.addin.macroenabled.12",
            "application/vnd.ms-excel.sheet.binary.macroenabled.12",
        ],
    ),
    (
        "EXECUTABLE",
        &[
            "application/javascript",
            "text/javascript",
            "application/x-javascript",
            "application/x-ecmascript",
            "text/ecmascript",
            "application/x-bash",
            "application/x-sh",
            "application/x-csh",
            "application/x-tcsh",
            "application/x-tcl",
            "application/x-perl",
            "application/x-python",
            "application/wasm",
        ],
    ),
    (
        "MULTIMEDIA",
        &[
            "application/x-shockwave-flash",
            "application/ogg",
            "audio/ogg",
            "video/ogg",
            "application/x-ogg",
            "audio/x-ogg",
            "video/x-ogg",
            "audio/x-pn-realaudio-plugin",
            "model/iges",
            "model/mesh",
            "model/vrml",
            "video/quicktime",
            "video/x-msvideo",
        ],
    ),
    (
        "AUDIO",
        &[
            "audio/midi",
            "audio/x-aiff",
            "audio/x-wav",
            "audio/mp3",
            "audio/mpeg",
            "audio/mpeg3",
            "audio/mp4",
            "audio/wav",
            "audio/wave",
            "audio/mid",
            "audio/basic",
            "audio/ogg",
            "audio/opus",
            "audio/x-pn-realaudio",
            "audio/x-realaudio",
            "audio/webm",
            "audio/x-matroska",
            "audio/x-flac",
            "audio/flac",
        ],
    ),
    (
        "BITMAP",
        &[
            "image/x-bmp",
            "image/x-ms-bmp",
            "image/bmp",
            "image/gif",
            "image/jpeg",
            "image/png",
            "image/tiff",
            "image/vnd.djvu",
            "image/x-xcf",
            "image/x-portable-pixmap",
            "image/x-png",
            "image/ief",
            "image/x-jps",
            "image/pjpeg",
            "image/jp2",
            "image/jpx",
            "image/xbm",
            "image/x-icon",
            "image/x-ico",
            "image/vnd.microsoft.icon",
            "image/x-rgb",
            "image/x-portable-graymap",
            "image/x-portable-greymap",
            "application/x-bmp",
            "application/bmp",
            "image/x-photoshop",
            "image/psd",
            "image/x-psd",
            "image/photoshop",
            "image/vnd.adobe.photoshop",
            "image/webp",
        ],
    ),
    (
        "DRAWING",
        &[
            "image/svg+xml",
            "application/svg+xml",
            "application/svg",
            "image/svg",
            "application/postscript",
            "application/x-latex",
            "application/x-tex",
            "application/x-dia-diagram",
            "application/acad",
            "application/x-acad",
            "application/autocad_dwg",
            "image/x-dwg",
            "application/dwg",
            "application/x-dwg",
            "application/x-autocad",
            "image/vnd.dwg",
            "drawing/dwg",
            "chemical/x-mdl-molfile",
            "chemical/x-mdl-sdfile",
            "chemical/x-mdl-rxnfile",
            "chemical/x-mdl-rdfile",
            "chemical/x-mdl-rgfile",
        ],
    ),
    (
        "TEXT",
        &[
            "text/plain",
            "text/html",
            "application/xhtml+xml",
            "application/xml",
            "text/xml",
            "text",
            "application/json",
            "text/csv",
            "text/tab-separated-values",
        ],
    ),
    (
        "VIDEO",
        &[
            "video/ogg",
            "video/mpeg",
            "application/mpeg",
            "video/x-sgi-video",
            "video/x-flv",
            "video/webm",
            "video/x-matroska",
            "video/mp4",
        ],
    ),
    (
        "UNKNOWN",
        &[
            "unknown/unknown",
            "application/octet-stream",
            "application/x-empty",
        ],
    ),
    (
        "ARCHIVE",
        &[
            "application/zip",
            "application/x-zip",
            "application/x-gzip",
            "application/x-bzip",
            "application/x-bzip2",
            "application/x-tar",
            "application/x-stuffit",
            "application/x-opc+zip",
            "application/x-7z-compressed",
        ],
    ),
    ("3D", &["application/sla"]),
];

/// Variant MIME types → canonical MIME type (applied once).
const MIME_TYPE_ALIASES: &[(&str, &str)] = &[
    ("text/javascript", "application/javascript"),
    ("application/x-javascript", "application/javascript"),
    ("audio/mpeg", "audio/mp3"),
    ("audio/ogg", "application/ogg"),
    ("video/ogg", "application/ogg"),
    ("image/x-ms-bmp", "image/x-bmp"),
    ("image/bmp", "image/x-bmp"),
    ("application/octet-stream", "unknown/unknown"),
    ("application/x-empty", "unknown/unknown"),
    ("image/x-png", "image/png"),
    ("image/pjpeg", "image/jpeg"),
    ("image/x-ico", "image/x-icon"),
    ("image/vnd.microsoft.icon", "image/x-icon"),
    ("image/x-portable-greymap", "image/x-portable-graymap"),
    ("application/x-bmp", "image/x-bmp"),
    ("application/bmp", "image/x-bmp"),
    ("image/psd", "image/x-photoshop"),
    ("image/x-psd", "image/x-photoshop"),
    ("image/photoshop", "image/x-photoshop"),
    ("image/vnd.adobe.photoshop", "image/x-photoshop"),
    ("application/svg+xml", "image/svg+xml"),
    ("application/svg", "image/svg+xml"),
    ("image/svg", "image/svg+xml"),
    ("audio/mp3", "audio/mpeg"),
    ("audio/mpeg3", "audio/mpeg"),
    ("audio/x-wav", "audio/wav"),
    ("audio/wave", "audio/wav"),
    ("audio/mid", "audio/midi"),
    ("application/mpeg", "video/mpeg"),
    ("application/x-ogg", "application/ogg"),
    ("audio/x-ogg", "application/ogg"),
    ("video/x-ogg", "application/ogg"),
    ("application/xhtml+xml", "text/html"),
    ("text/xml", "application/xml"),
    ("application/x-zip", "application/zip"),
    ("application/x-ecmascript", "application/javascript"),
    ("text/ecmascript", "application/javascript"),
    ("application/acrobat", "application/pdf"),
    ("image/x.djvu", "image/vnd.djvu"),
    ("image/x-djvu", "image/vnd.djvu"),
    ("application/x-acad", "application/acad"),
    ("application/autocad_dwg", "application/acad"),
    ("image/x-dwg", "application/acad"),
    ("application/dwg", "application/acad"),
    ("application/x-dwg", "application/acad"),
    ("application/x-autocad", "application/acad"),
    ("image/vnd.dwg", "application/acad"),
    ("drawing/dwg", "application/acad"),
    ("image/jpeg2000", "image/jp2"),
    ("image/jpeg2000-image", "image/jp2"),
    ("image/x-jpeg2000-image", "image/jp2"),
];

/// Extensions whose files MediaWiki expects to recognise from their content.
const RECOGNIZABLE_EXTENSIONS: &[&str] = &[
    "gif", "jpeg", "jpg", "png", "swf", "psd", "bmp", "tiff", "tif", "jpc", "jp2", "jpx", "jb2",
    "swc", "iff", "wbmp", "xbm", "djvu", "ogx", "ogg", "ogv", "oga", "spx", "opus", "mid", "pdf",
    "wmf", "xcf", "webm", "mkv", "mka", "webp", "mp3", "svg", "stl",
];

/// `$wgXMLMimeTypes`: root element → MIME type.
const XML_TYPES: &[(&str, &str)] = &[
    ("http://www.w3.org/2000/svg:svg", "image/svg+xml"),
    ("svg", "image/svg+xml"),
    (
        "http://www.lysator.liu.se/~alla/dia/:diagram",
        "application/x-dia-diagram",
    ),
    ("http://www.w3.org/1999/xhtml:html", "text/html"),
    ("html", "text/html"),
];

/// Major MIME types that can be stored; anything else is stored as `unknown`.
const STORABLE_MAJOR: &[&str] = &[
    "unknown",
    "application",
    "audio",
    "image",
    "text",
    "video",
    "message",
    "model",
    "multipart",
    "chemical",
];

/// Apply the alias table once (`image/x-png` → `image/png`, `text/xml` → `application/xml` ...).
pub fn canonical_mime(mime: &str) -> String {
    MIME_TYPE_ALIASES
        .iter()
        .find(|(alias, _)| *alias == mime)
        .map(|(_, canonical)| (*canonical).to_owned())
        .unwrap_or_else(|| mime.to_owned())
}

/// Extensions known for a MIME type (aliases resolved), first = preferred:
/// `image/jpeg` → `["jpeg", "jpg", "jpe", "jps"]`.
pub fn extensions_for_mime(mime: &str) -> Vec<&'static str> {
    let mime = mime.to_ascii_lowercase();
    let lookup = |m: &str| {
        MIME_EXTENSIONS
            .iter()
            .find(|(k, _)| *k == m)
            .map(|(_, e)| e.to_vec())
    };
    lookup(&mime)
        .or_else(|| {
            MIME_TYPE_ALIASES
                .iter()
                .find(|(a, _)| *a == mime)
                .and_then(|(_, c)| lookup(c))
        })
        .unwrap_or_default()
}

/// MIME types known for an extension (case-insensitive), in table order.
pub fn mimes_for_extension(ext: &str) -> Vec<&'static str> {
    let ext = ext.to_ascii_lowercase();
    MIME_EXTENSIONS
        .iter()
        .filter(|(_, exts)| exts.contains(&ext.as_str()))
        .map(|(m, _)| *m)
        .collect()
}

/// The first MIME type known for an extension.
pub fn mime_for_extension(ext: &str) -> Option<&'static str> {
    mimes_for_extension(ext).into_iter().next()
}

/// Whether MediaWiki expects to recognise files with this extension from their content.
pub fn is_recognizable_extension(ext: &str) -> bool {
    RECOGNIZABLE_EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str())
}

/// `Some(true)` if `ext` is one of the MIME type's extensions, `Some(false)` if not,
/// `None` if the MIME type has no known extensions.
pub fn is_matching_extension(ext: &str, mime: &str) -> Option<bool> {
    let exts = extensions_for_mime(mime);
    if exts.is_empty() {
        None
    } else {
        Some(exts.contains(&ext.to_ascii_lowercase().as_str()))
    }
}

/// SPEC §7.4 `improveTypeFromExtension`: refine a content-sniffed MIME type with the
/// file's extension.
pub fn improve_from_extension(content_mime: &str, ext: &str) -> String {
    let mut mime: Option<String> = Some(content_mime.to_owned());
    if content_mime == UNKNOWN_MIME {
        if !is_recognizable_extension(ext) {
            // Not something that can be detected: trust the extension.
            mime = mime_for_extension(ext).map(str::to_owned);
        }
    } else if content_mime == "application/x-opc+zip"
        || content_mime == "application/vnd.oasis.opendocument"
    {
        mime = if is_matching_extension(ext, content_mime) == Some(true) {
            mime_for_extension(ext).map(str::to_owned)
        } else {
            Some("application/zip".to_owned())
        };
    } else if content_mime == "text/plain" && find_media_type_for_extension(ext) == "TEXT" {
        // Textual types (csv, json ...) are often sniffed as plain text.
        mime = mime_for_extension(ext).map(str::to_owned);
    }
    match mime {
        Some(m) => canonical_mime(&m),
        None => UNKNOWN_MIME.to_owned(),
    }
}

fn media_type_of_mime(mime: &str) -> &'static str {
    let mime = canonical_mime(mime);
    MEDIA_TYPES
        .iter()
        .find(|(_, mimes)| mimes.contains(&mime.as_str()))
        .map(|(t, _)| *t)
        .unwrap_or("UNKNOWN")
}

fn find_media_type_for_extension(ext: &str) -> &'static str {
    for mime in mimes_for_extension(ext) {
        if let Some((t, _)) = MEDIA_TYPES.iter().find(|(_, mimes)| mimes.contains(&mime)) {
            return t;
        }
    }
    "UNKNOWN"
}

/// The media type (`BITMAP`, `DRAWING`, `AUDIO`, `VIDEO`, `MULTIMEDIA`, `OFFICE`, `TEXT`,
/// `EXECUTABLE`, `ARCHIVE`, `3D` or `UNKNOWN`) from the MIME type, else the extension,
/// else the major type. `application/ogg` is `MULTIMEDIA` here; see
/// [`media_type_for_content`] for the content-based decision.
pub fn media_type(mime: &str, ext: Option<&str>) -> &'static str {
    let by_mime = media_type_of_mime(mime);
    if by_mime != "UNKNOWN" {
        return by_mime;
    }
    if let Some(ext) = ext {
        let by_ext = find_media_type_for_extension(ext);
        if by_ext != "UNKNOWN" {
            return by_ext;
        }
    }
    match mime.split_once('/') {
        Some((major, _)) => media_type_of_mime(major),
        None => "UNKNOWN",
    }
}

/// [`media_type`], except that `application/ogg` looks at the first 256 bytes of the content
/// (theora → VIDEO; vorbis, flac, speex, opus → AUDIO; else MULTIMEDIA).
pub fn media_type_for_content(
    content: &dyn Content,
    mime: &str,
    ext: Option<&str>,
) -> io::Result<&'static str> {
    if mime == "application/ogg" {
        let head = read_head(content, 256)?.to_ascii_lowercase();
        let text = String::from_utf8_lossy(&head).replace("ffmpeg2theora", "");
        return Ok(if text.contains("theora") {
            "VIDEO"
        } else if ["vorbis", "flac", "speex", "opus"]
            .iter()
            .any(|k| text.contains(k))
        {
            "AUDIO"
        } else {
            "MULTIMEDIA"
        });
    }
    Ok(media_type(mime, ext))
}

/// Split a MIME type into major and minor parts (`unknown` minor when there is no `/`).
pub fn split_mime(mime: &str) -> (String, String) {
    match mime.split_once('/') {
        Some((major, minor)) => (major.to_owned(), minor.to_owned()),
        None => (mime.to_owned(), "unknown".to_owned()),
    }
}

/// The major MIME type as it can be stored (`unknown` for anything unusual).
pub fn storable_major_mime(major: &str) -> &str {
    if STORABLE_MAJOR.contains(&major) {
        major
    } else {
        "unknown"
    }
}

// ---------------------------------------------------------------------------------------
// Content sniffing
// ---------------------------------------------------------------------------------------

fn starts(hay: &[u8], needle: &[u8]) -> bool {
    hay.starts_with(needle)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Content-only MIME guess (MediaWiki's `file-mime`): SPEC §7.4 steps 1-11, then the
/// alias table.
pub fn sniff(content: &dyn Content) -> io::Result<String> {
    let raw = guess_raw(content)?;
    Ok(canonical_mime(&raw))
}

fn guess_raw(content: &dyn Content) -> io::Result<String> {
    let mut f = ContentReader::new(content);
    let size = content.len();
    let mut head = vec![0u8; 16384];
    let n = read_full(&mut f, &mut head)?;
    head.truncate(n);
    let head16k = head.clone();
    head.truncate(1024);
    let tail_len = size.min(65_558);
    let mut tail = vec![0u8; usize::try_from(tail_len).unwrap_or(0)];
    f.seek(SeekFrom::Start(size - tail_len))?;
    let n = read_full(&mut f, &mut tail)?;
    tail.truncate(n);

    // 1. Fixed magic numbers.
    const HEADERS: &[(&[u8], &str)] = &[
        (b"MThd", "audio/midi"),
        (b"OggS", "application/ogg"),
        (b"ID3", "audio/mpeg"),
        (b"\xff\xfb", "audio/mpeg"),
        (b"\xff\xf3", "audio/mpeg"),
        (b"\xff\xe3", "audio/mpeg"),
        (b"\x01\x00\x09\x00", "application/x-msmetafile"),
        (b"\xd7\xcd\xc6\x9a", "application/x-msmetafile"),
        (b"%PDF", "application/pdf"),
        (b"gimp xcf", "image/x-xcf"),
        (b"MZ", "application/octet-stream"),
        (b"\xca\xfe\xba\xbe", "application/octet-stream"),
        (b"\x7fELF", "application/octet-stream"),
    ];
    for (magic, mime) in HEADERS {
        if starts(&head, magic) {
            return Ok((*mime).to_owned());
        }
    }

    // 2. Matroska / WebM.
    if starts(&head, b"\x1a\x45\xdf\xa3") {
        if let Some(p) = find(&head16k, b"\x42\x82").filter(|p| *p > 0) {
            let data = head16k.get(p + 3..).unwrap_or_default();
            if starts(data, b"matroska") {
                return Ok("video/x-matroska".into());
            }
            if starts(data, b"webm") {
                let video = [&b"\x86\x85V_VP8"[..], b"\x86\x85V_VP9", b"\x86\x85V_AV1"]
                    .iter()
                    .any(|c| find(&head16k, c).is_some_and(|p| p > 0));
                return Ok(if video { "video/webm" } else { "audio/webm" }.into());
            }
        }
        return Ok(UNKNOWN_MIME.into());
    }

    // 3. WebP and JPEG 2000.
    if starts(&head, b"RIFF") && head.get(8..15) == Some(b"WEBPVP8") {
        return Ok("image/webp".into());
    }
    if starts(&head, b"\x00\x00\x00\x0cjP\x20\x20\x0d\x0a\x87\x0a") {
        match head.get(20..24) {
            Some(b"jp2 ") => return Ok("image/jp2".into()),
            Some(b"jpx ") => return Ok("image/jpx".into()),
            _ => {}
        }
    }

    // 4. OLE compound files.
    if starts(&head, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1") {
        return Ok(detect_ole_type(&mut f).unwrap_or(UNKNOWN_MIME).to_owned());
    }

    // 5. PHP.
    const PHP: &[&[u8]] = &[
        b"<?php",
        b"<\x00?\x00p\x00h\x00p",
        b"<\x00?\x00 ",
        b"<\x00?\x00\n",
        b"<\x00?\x00\t",
        b"<\x00?\x00=",
    ];
    if PHP.iter().any(|p| find(&head, p).is_some()) {
        return Ok("application/x-php".into());
    }

    // 6. XML.
    if let Some(root) = xml_root_element(content)? {
        let mime = XML_TYPES
            .iter()
            .find(|(r, _)| *r == root)
            .map(|(_, m)| *m)
            .unwrap_or("application/xml");
        return Ok(mime.into());
    }

    // 7. Scripts with a shebang.
    if let Some(mime) = shebang_type(&head) {
        return Ok(mime);
    }

    // 8. ZIP archives.
    if let Some(eocd) = find(&tail, b"PK\x05\x06") {
        if eocd + 22 <= tail.len() {
            let comment_len = usize::from(u16::from_le_bytes([tail[eocd + 20], tail[eocd + 21]]));
            if eocd + 22 + comment_len == tail.len() {
                return Ok(detect_zip_type(&mut f, &tail[eocd..]).to_owned());
            }
        }
    }

    // 9. STL.
    if size >= 15
        && head.len() >= 6
        && head[..6].eq_ignore_ascii_case(b"SOLID ")
        && ascii_stl_end(&tail)
    {
        return Ok("application/sla".into());
    } else if size > 84 && head.len() >= 84 {
        let triangles = u64::from(u32::from_le_bytes([head[80], head[81], head[82], head[83]]));
        if size == 84 + triangles * 50 {
            return Ok("application/sla".into());
        }
    }

    // 10. What PHP's getimagesize() recognises.
    if let Some(mime) = image_type(&mut f, &head, &head16k, size)? {
        return Ok(mime.into());
    }

    // 11. libmagic (normalised; anything "unknown" is ignored).
    let magic = magic_mime(&head16k, size);
    Ok(if magic.contains("unknown") {
        UNKNOWN_MIME.to_owned()
    } else {
        magic.to_owned()
    })
}

fn ascii_stl_end(tail: &[u8]) -> bool {
    static RE: OnceLock<Option<regex::bytes::Regex>> = OnceLock::new();
    RE.get_or_init(|| {
        regex::bytes::Regex::new(r"(?i-u)(\r\n|\n|\r|\x0B|\x0C)ENDSOLID [^\n]*\n?\z").ok()
    })
    .as_ref()
    .is_some_and(|r| r.is_match(tail))
}

fn shebang_type(head: &[u8]) -> Option<String> {
    let text: Vec<u8> = if starts(head, b"#!") || starts(head, b"\xef\xbb\xbf#!") {
        head.to_vec()
    } else if starts(head, b"\xfe\xff\x00#\x00!") || starts(head, b"\xff\xfe#\x00!") {
        let be = head[0] == 0xfe;
        head[2..]
            .chunks_exact(2)
            .map(|c| {
                let u = if be {
                    u16::from_be_bytes([c[0], c[1]])
                } else {
                    u16::from_le_bytes([c[0], c[1]])
                };
                u8::try_from(u).ok().filter(|b| *b < 128).unwrap_or(b'?')
            })
            .collect()
    } else {
        return None;
    };
    static RE: OnceLock<Option<regex::bytes::Regex>> = OnceLock::new();
    let re = RE
        .get_or_init(|| regex::bytes::Regex::new(r"(?-u)/?([^\s]+/)(\w+)").ok())
        .as_ref()?;
    let caps = re.captures(&text)?;
    Some(format!(
        "application/x-{}",
        String::from_utf8_lossy(&caps[2])
    ))
}

/// Look at the entries of a ZIP archive's central directory.
fn detect_zip_type(f: &mut ContentReader<'_>, eocd: &[u8]) -> &'static str {
    let u16le = |b: &[u8], o: usize| u16::from_le_bytes([b[o], b[o + 1]]);
    let u32le = |b: &[u8], o: usize| u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
    let entries = u16le(eocd, 10);
    let cd_offset = u64::from(u32le(eocd, 16));
    let mut types: Vec<&'static str> = Vec::new();
    let ok = (|| -> io::Result<bool> {
        f.seek(SeekFrom::Start(cd_offset))?;
        let mut reader = io::BufReader::new(&mut *f);
        for _ in 0..entries {
            let mut hdr = [0u8; 46];
            if read_full(&mut reader, &mut hdr)? != 46 || &hdr[..4] != b"PK\x01\x02" {
                return Ok(false);
            }
            let name_len = usize::from(u16le(&hdr, 28));
            let skip = u64::from(u16le(&hdr, 30)) + u64::from(u16le(&hdr, 32));
            let mut name = vec![0u8; name_len];
            if read_full(&mut reader, &mut name)? != name_len {
                return Ok(false);
            }
            io::copy(&mut (&mut reader).take(skip), &mut io::sink())?;
            let mut names = vec![name.clone()];
            if let Some(nul) = name.iter().position(|b| *b == 0) {
                names.push(name[..nul].to_vec());
            }
            let is_class = names.iter().any(|n| {
                let n = n.strip_suffix(b"/").unwrap_or(n);
                n.ends_with(b".class")
            });
            if is_class {
                types.push("application/java");
            }
            if name == b"[Content_Types].xml" {
                types.push("application/x-opc+zip");
            } else if name == b"mimetype" {
                types.push("application/vnd.oasis.opendocument");
            }
        }
        Ok(true)
    })()
    .unwrap_or(false);
    if !ok {
        return "application/zip";
    }
    if types.contains(&"application/java") {
        "application/java"
    } else {
        types.first().copied().unwrap_or("application/zip")
    }
}

/// The Office type of an OLE compound file, from the root entry's class id or the names
/// of the first directory entries.
fn detect_ole_type(f: &mut ContentReader<'_>) -> Option<&'static str> {
    let mut header = [0u8; 512];
    f.seek(SeekFrom::Start(0)).ok()?;
    if read_full(f, &mut header).ok()? != 512 {
        return None;
    }
    let shift = u16::from_le_bytes([header[0x1E], header[0x1F]]);
    if !(7..=16).contains(&shift) {
        return None;
    }
    let sector_size = 1u64 << shift;
    let dir_sector = u64::from(u32::from_le_bytes([
        header[0x30],
        header[0x31],
        header[0x32],
        header[0x33],
    ]));
    f.seek(SeekFrom::Start((dir_sector + 1) * sector_size))
        .ok()?;
    let mut dir = vec![0u8; usize::try_from(sector_size).ok()?];
    let n = read_full(f, &mut dir).ok()?;
    if n < 128 {
        return None;
    }
    let root = &dir[..128];
    if root[0x42] != 5 {
        return None;
    }
    let clsid = format_clsid(&root[0x50..0x60]);
    let by_clsid = match clsid.as_str() {
        "00020810-0000-0000-C000-000000000046" | "00020820-0000-0000-C000-000000000046" => {
            Some("application/vnd.ms-excel")
        }
        "00020906-0000-0000-C000-000000000046" => Some("application/msword"),
        "64818D10-4F9B-11CF-86EA-00AA00B929E8" => Some("application/vnd.ms-powerpoint"),
        _ => None,
    };
    if by_clsid.is_some() {
        return by_clsid;
    }
    for entry in dir[..n].chunks_exact(128).skip(1) {
        let len = usize::from(u16::from_le_bytes([entry[0x40], entry[0x41]])).min(64);
        let units: Vec<u16> = entry[..len]
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        let name = String::from_utf16_lossy(&units);
        match name.trim_end_matches('\0') {
            "WordDocument" => return Some("application/msword"),
            "Workbook" | "Book" => return Some("application/vnd.ms-excel"),
            "PowerPoint Document" => return Some("application/vnd.ms-powerpoint"),
            _ => {}
        }
    }
    None
}

fn format_clsid(b: &[u8]) -> String {
    format!(
        "{:08X}-{:04X}-{:04X}-{:02X}{:02X}-{:02X}{:02X}{:02X}{:02X}{:02X}{:02X}",
        u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
        u16::from_le_bytes([b[4], b[5]]),
        u16::from_le_bytes([b[6], b[7]]),
        b[8],
        b[9],
        b[10],
        b[11],
        b[12],
        b[13],
        b[14],
        b[15]
    )
}

/// The MIME type PHP's `getimagesize()` reports, if it recognises the file.
fn image_type(
    f: &mut ContentReader<'_>,
    head: &[u8],
    head16k: &[u8],
    size: u64,
) -> io::Result<Option<&'static str>> {
    if head.len() < 3 {
        return Ok(None);
    }
    let h = head;
    if starts(h, b"GIF") {
        return Ok((size >= 10).then_some("image/gif"));
    }
    if starts(h, b"\xff\xd8\xff") {
        return Ok(Some("image/jpeg"));
    }
    if starts(h, b"\x89PN") {
        // A corrupted signature stops the detection here.
        return Ok((starts(h, b"\x89PNG\r\n\x1a\n") && size >= 24).then_some("image/png"));
    }
    if starts(h, b"FWS") || starts(h, b"CWS") {
        return Ok(Some("application/x-shockwave-flash"));
    }
    if starts(h, b"8BP") {
        return Ok((size >= 26).then_some("image/psd"));
    }
    if starts(h, b"BM") {
        return Ok(Some("image/bmp"));
    }
    if starts(h, b"\xff\x4f\xff") {
        return Ok(Some("application/octet-stream"));
    }
    if starts(h, b"RIF") {
        return Ok((h.get(8..12) == Some(b"WEBP")).then_some("image/webp"));
    }
    if starts(h, b"II\x2a\x00") || starts(h, b"MM\x00\x2a") {
        return Ok(Some("image/tiff"));
    }
    if starts(h, b"FORM") {
        let ok = matches!(h.get(8..12), Some(b"ILBM") | Some(b"PBM "));
        return Ok(ok.then_some("image/iff"));
    }
    if starts(h, b"\x00\x00\x01\x00") {
        let count = h
            .get(4..6)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .unwrap_or(0);
        return Ok((count > 0).then_some("image/vnd.microsoft.icon"));
    }
    if starts(h, b"\x00\x00\x00\x0cjP  \x0d\x0a\x87\x0a") {
        return Ok(Some("image/jp2"));
    }
    if h.get(4..8) == Some(b"ftyp") && is_avif(h) {
        return Ok(Some("image/avif"));
    }
    if wbmp_size(h).is_some() {
        return Ok(Some("image/vnd.wap.wbmp"));
    }
    // XBM defines come first; do not scan files that show none at their start.
    if find(head16k, b"#define").is_some() && is_xbm(f)? {
        return Ok(Some("image/xbm"));
    }
    Ok(None)
}

fn is_avif(h: &[u8]) -> bool {
    let box_len = h
        .get(0..4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
        .unwrap_or(0);
    let body = h.get(8..box_len.min(h.len())).unwrap_or_default();
    let mut brands = Vec::new();
    if body.len() >= 4 {
        brands.push(&body[0..4]);
    }
    if body.len() > 8 {
        brands.extend(body[8..].chunks_exact(4));
    }
    brands.iter().any(|b| *b == b"avif" || *b == b"avis")
}

/// PHP's WBMP check: type 0, a header, then width and height as multi-byte integers
/// (each at most 2048, neither 0).
pub(crate) fn wbmp_size(h: &[u8]) -> Option<(u32, u32)> {
    let mut it = h.iter().copied();
    if it.next()? != 0 {
        return None;
    }
    loop {
        let b = it.next()?;
        if b & 0x80 == 0 {
            break;
        }
    }
    let mut read_int = || -> Option<u32> {
        let mut v: u32 = 0;
        loop {
            let b = it.next()?;
            v = (v << 7) | u32::from(b & 0x7f);
            if v > 2048 {
                return None;
            }
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
    };
    let width = read_int()?;
    let height = read_int()?;
    (width != 0 && height != 0).then_some((width, height))
}

/// PHP's XBM check: `#define <name>_width <n>` and `..._height <n>` lines (looked for in
/// the first MiB).
fn is_xbm(f: &mut ContentReader<'_>) -> io::Result<bool> {
    f.seek(SeekFrom::Start(0))?;
    let mut buf = Vec::new();
    f.take(1 << 20).read_to_end(&mut buf)?;
    let (mut width, mut height) = (0i64, 0i64);
    for line in buf.split(|b| *b == b'\n') {
        let text = String::from_utf8_lossy(line);
        let mut parts = text.split_ascii_whitespace();
        if parts.next() != Some("#define") {
            continue;
        }
        let (Some(name), Some(value)) = (parts.next(), parts.next()) else {
            continue;
        };
        let digits: String = value
            .char_indices()
            .take_while(|(i, c)| c.is_ascii_digit() || (*i == 0 && (*c == '-' || *c == '+')))
            .map(|(_, c)| c)
            .collect();
        let Ok(value) = digits.parse::<i64>() else {
            continue;
        };
        match name.rfind('_').map(|p| &name[p..]) {
            Some("_width") => width = value,
            Some("_height") => height = value,
            _ => {}
        }
        if width != 0 && height != 0 {
            return Ok(true);
        }
    }
    Ok(false)
}

/// A small emulation of libmagic's MIME answer for what the earlier steps did not catch.
fn magic_mime(head: &[u8], size: u64) -> &'static str {
    if size == 0 {
        return "application/x-empty";
    }
    let h = head;
    let at = |o: usize, m: &[u8]| h.get(o..o + m.len()) == Some(m);
    if starts(h, b"fLaC") {
        return "audio/flac";
    }
    if starts(h, b"RIFF") && at(8, b"WAVE") {
        return "audio/x-wav";
    }
    if starts(h, b"RIFF") && at(8, b"AVI ") {
        return "video/x-msvideo";
    }
    if at(4, b"ftyp") {
        return match h.get(8..12) {
            Some(b"qt  ") => "video/quicktime",
            Some(b"M4A ") => "audio/x-m4a",
            Some(b"heic") | Some(b"heix") | Some(b"mif1") => "image/heic",
            _ => "video/mp4",
        };
    }
    if starts(h, b"\x00\x00\x01\xba") || starts(h, b"\x00\x00\x01\xb3") {
        return "video/mpeg";
    }
    if starts(h, b"\x1f\x8b") {
        return "application/gzip";
    }
    if starts(h, b"BZh") {
        return "application/x-bzip2";
    }
    if starts(h, b"7z\xbc\xaf\x27\x1c") {
        return "application/x-7z-compressed";
    }
    if starts(h, b"Rar!\x1a\x07") {
        return "application/x-rar";
    }
    if starts(h, b"\xfd7zXZ\x00") {
        return "application/x-xz";
    }
    if starts(h, b"PK\x03\x04") {
        // libmagic (PHP's fileinfo, as MediaWiki runs it) names a local file header a ZIP
        // archive only when the file holds the header's name and is at least 149 bytes long;
        // a shorter stub is unknown.
        if let Some(n) = h
            .get(26..28)
            .map(|b| u64::from(u16::from_le_bytes([b[0], b[1]])))
        {
            if size >= 149u64.max(32 + n) {
                return "application/zip";
            }
        }
    }
    if starts(h, b"PK\x05\x06") {
        // An end-of-central-directory record alone: an empty archive.
        return "application/zip";
    }
    if starts(h, b"AT&TFORM") && (at(12, b"DJVU") || at(12, b"DJVM")) {
        return "image/vnd.djvu";
    }
    if starts(h, b"wOFF") {
        return "font/woff";
    }
    if starts(h, b"wOF2") {
        return "font/woff2";
    }
    if starts(h, b"\x00\x01\x00\x00\x00") || starts(h, b"OTTO") {
        return "font/sfnt";
    }
    if starts(h, b"{\\rtf") {
        return "text/rtf";
    }
    if starts(h, b"%!") {
        return "application/postscript";
    }
    if at(257, b"ustar") {
        return "application/x-tar";
    }
    if !looks_like_text(h) {
        return "application/octet-stream";
    }
    let sample: Vec<u8> = h.iter().take(4096).map(u8::to_ascii_lowercase).collect();
    let trimmed = {
        let start = sample
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .unwrap_or(sample.len());
        let s = &sample[start..];
        s.strip_prefix(b"\xef\xbb\xbf").unwrap_or(s)
    };
    if starts(trimmed, b"<?xml")
        || starts(trimmed, b"<svg")
        || find(trimmed, b"<!doctype svg").is_some()
    {
        if find(trimmed, b"<svg").is_some() {
            return "image/svg+xml";
        }
        if starts(trimmed, b"<?xml") {
            return "text/xml";
        }
    }
    const HTML: &[&[u8]] = &[
        b"<!doctype html",
        b"<head>",
        b"<head ",
        b"<title>",
        b"<title ",
        b"<html>",
        b"<html ",
        b"<script>",
        b"<script ",
        b"<style>",
        b"<style ",
        b"<table>",
        b"<table ",
        b"<a href=",
    ];
    if HTML.iter().any(|m| find(&sample, m).is_some()) {
        return "text/html";
    }
    let complete = usize::try_from(size).is_ok_and(|s| s <= h.len());
    if (starts(trimmed, b"{") || starts(trimmed, b"["))
        && complete
        && serde_json::from_slice::<serde_json::Value>(h).is_ok()
    {
        return "application/json";
    }
    "text/plain"
}

/// libmagic's idea of text: no bytes outside its text character set (or UTF-16 with a BOM).
fn looks_like_text(h: &[u8]) -> bool {
    if starts(h, b"\xff\xfe") || starts(h, b"\xfe\xff") {
        return h.len() & 1 == 0 || h.len() >= 16384;
    }
    h.iter()
        .all(|&b| !matches!(b, 0..=6 | 14..=26 | 28..=31 | 127))
}

// ---------------------------------------------------------------------------------------
// Internet Explorer emulation
// ---------------------------------------------------------------------------------------

const IE_VERSIONS: &[&str] = &["ie05", "ie06", "ie07", "ie07.strict", "ie07.nohtml"];

/// IE's data format of a MIME type: `ambiguous`, `text`, `binary`, `html` or `unknown`.
fn ie_data_format(version: &str, mime: &str) -> &'static str {
    if mime.is_empty() || mime == "(null)" {
        return "ambiguous";
    }
    const AMBIGUOUS: &[&str] = &[
        "text/plain",
        "application/octet-stream",
        "application/x-netcdf",
    ];
    const TEXT: &[&str] = &[
        "text/richtext",
        "image/x-bitmap",
        "application/postscript",
        "application/base64",
        "application/macbinhex40",
        "application/x-cdf",
        "text/scriptlet",
    ];
    const BINARY: &[&str] = &[
        "application/pdf",
        "audio/x-aiff",
        "audio/basic",
        "audio/wav",
        "image/gif",
        "image/pjpeg",
        "image/jpeg",
        "image/tiff",
        "image/x-png",
        "image/png",
        "image/bmp",
        "image/x-jg",
        "image/x-art",
        "image/x-emf",
        "image/x-wmf",
        "video/avi",
        "video/x-msvideo",
        "video/mpeg",
        "application/x-compressed",
        "application/x-zip-compressed",
        "application/x-gzip-compressed",
        "application/java",
        "application/x-msdownload",
    ];
    if AMBIGUOUS.contains(&mime) {
        "ambiguous"
    } else if TEXT.contains(&mime)
        || (version >= "ie07" && (mime == "text/xml" || mime == "application/xml"))
    {
        "text"
    } else if BINARY.contains(&mime) {
        "binary"
    } else if mime == "text/html" {
        "html"
    } else {
        "unknown"
    }
}

fn ie_text_headers(c: &[u8]) -> Option<&'static str> {
    if starts(c, b"%PDF") {
        Some("application/pdf")
    } else if starts(c, b"%!") {
        Some("application/postscript")
    } else if starts(c, b"{\\rtf") {
        Some("text/richtext")
    } else if starts(c, b"begin") {
        Some("application/base64")
    } else {
        None
    }
}

fn ie_binary_headers(c: &[u8]) -> Option<&'static str> {
    let at = |o: usize, m: &[u8]| c.get(o..o + m.len()) == Some(m);
    let upper5: Vec<u8> = c.iter().take(5).map(u8::to_ascii_uppercase).collect();
    if upper5 == b"GIF87" || upper5 == b"GIF89" {
        return Some("image/gif");
    }
    if starts(c, b"\xff\xd8") {
        return Some("image/pjpeg");
    }
    if starts(c, b"BM") && at(6, b"\0\0") && at(8, b"\0\0") {
        return Some("image/bmp");
    }
    if starts(c, b"RIFF") && at(8, b"WAVE") {
        return Some("audio/wav");
    }
    if starts(c, b".sd\0") || starts(c, b".snd") || starts(c, b"\0ds.") || starts(c, b"dns.") {
        return Some("audio/basic");
    }
    if starts(c, b"MM\0") {
        return Some("image/tiff");
    }
    if starts(c, b"MZ") {
        return Some("application/x-msdownload");
    }
    if starts(c, b"\x89PNG\x0d\x0a\x1a\x0a") {
        return Some("image/x-png");
    }
    if c.len() >= 5 && (3..=31).contains(&c[2]) && c[4] == 0 && starts(c, b"JG") {
        return Some("image/x-jg");
    }
    if starts(c, b"MROF") {
        return Some("audio/x-aiff");
    }
    if starts(c, b"FORM") && (at(8, b"AIFF") || at(8, b"AIFC")) {
        return Some("audio/x-aiff");
    }
    if starts(c, b"RIFF") && at(8, b"AVI ") {
        return Some("video/avi");
    }
    if starts(c, b"\x00\x00\x01\xb3") || starts(c, b"\x00\x00\x01\xba") {
        return Some("video/mpeg");
    }
    if starts(c, b"\x01\x00\x00\x00") && at(40, b" EMF") {
        return Some("image/x-emf");
    }
    if starts(c, b"\xd7\xcd\xc6\x9a") {
        return Some("image/x-wmf");
    }
    if starts(c, b"\xca\xfe\xba\xbe") {
        return Some("application/java");
    }
    if starts(c, b"PK") {
        return Some("application/x-zip-compressed");
    }
    if starts(c, b"\x1f\x9d") {
        return Some("application/x-compressed");
    }
    if starts(c, b"\x1f\x8b") {
        return Some("application/x-gzip-compressed");
    }
    if starts(c, b"MThd\0") {
        return Some("audio/mid");
    }
    if starts(c, b"%PDF") {
        return Some("application/pdf");
    }
    None
}

#[derive(Default)]
struct IeSample {
    xml: bool,
    scriptlet: bool,
    html: bool,
    cdf: bool,
    rss: bool,
    rdf_tag: bool,
    rdf_url: bool,
    atom: bool,
    xbm1: bool,
    xbm2: bool,
    xbm: bool,
    binhex: bool,
    ctrl: u32,
    high: u32,
    low: u32,
    ff: u32,
}

fn ci_starts(hay: &[u8], needle: &[u8]) -> bool {
    hay.len() >= needle.len() && hay[..needle.len()].eq_ignore_ascii_case(needle)
}

fn ie_sample(version: &str, chunk: &[u8]) -> IeSample {
    const HTML_TAGS: &[&[u8]] = &[
        b"html",
        b"head",
        b"title",
        b"body",
        b"script",
        b"a href",
        b"pre",
        b"img",
        b"plaintext",
        b"table",
    ];
    const RDF_URL: &[u8] = b"http://www.w3.org/1999/02/22-rdf-syntax-ns#";
    const RDF_PURL: &[u8] = b"http://purl.org/rss/1.0/";
    let mut s = IeSample::default();
    for offset in 0..chunk.len() {
        let c = chunk[offset];
        match c {
            0x0a | 0x0d => continue,
            0x0c => {
                s.ff += 1;
                continue;
            }
            b'\t' => {
                s.low += 1;
                continue;
            }
            0..=31 => {
                s.ctrl += 1;
                continue;
            }
            128..=255 => {
                s.high += 1;
                continue;
            }
            _ => {}
        }
        s.low += 1;
        if c == b'<' {
            let rest = &chunk[offset + 1..];
            if ci_starts(rest, b"?XML")
                && matches!(chunk.get(offset + 5), Some(b':' | b' ' | b'\t'))
            {
                s.xml = true;
            }
            if ci_starts(rest, b"SCRIPTLET") {
                s.scriptlet = true;
                break;
            }
            if HTML_TAGS.iter().any(|t| ci_starts(rest, t)) {
                s.html = true;
            }
            if version < "ie07" {
                if ci_starts(rest, b"CHANNEL") {
                    s.cdf = true;
                }
            } else {
                if ci_starts(rest, b"RSS") {
                    s.rss = true;
                    break;
                }
                if ci_starts(rest, b"rdf:RDF") {
                    s.rdf_tag = true;
                }
                if ci_starts(rest, b"FEED") {
                    s.atom = true;
                    break;
                }
            }
            continue;
        }
        let rest = &chunk[offset..];
        if ci_starts(rest, RDF_URL) {
            // (The reference also wants an "rdf-purl" flag here that is never set.)
            s.rdf_url = true;
            continue;
        }
        if ci_starts(rest, RDF_PURL) {
            if s.rdf_tag && s.rdf_url {
                break;
            }
            continue;
        }
        if ci_starts(rest, b"#define") {
            s.xbm1 = true;
            continue;
        }
        if c == b'_' {
            if s.xbm2 {
                if ci_starts(rest, b"_bits") {
                    s.xbm = true;
                    break;
                }
            } else if s.xbm1 && ci_starts(rest, b"_width") {
                s.xbm2 = true;
            }
        }
        if starts(rest, b"converted with BinHex") {
            s.binhex = true;
        }
    }
    s
}

fn ie_mime_for_version(version: &str, chunk: &[u8], proposed: &str) -> String {
    let proposed = proposed.split(';').next().unwrap_or("");
    let proposed_format = ie_data_format(version, proposed);
    if proposed_format == "unknown"
        && proposed != "multipart/mixed"
        && proposed != "multipart/x-mixed-replace"
    {
        return proposed.to_owned();
    }
    if chunk.is_empty() {
        return proposed.to_owned();
    }
    let chunk = &chunk[..chunk.len().min(255)];
    let s = ie_sample(version, chunk);
    let binary_type = ie_binary_headers(chunk);
    let text_type = ie_text_headers(chunk);

    if proposed == "text/html" && s.html {
        return "text/html".into();
    }
    if proposed == "image/gif" && binary_type == Some("image/gif") {
        return "image/gif".into();
    }
    if (proposed == "image/pjpeg" || proposed == "image/jpeg") && binary_type == Some("image/pjpeg")
    {
        return proposed.into();
    }
    if version >= "ie07"
        && (proposed == "image/x-png" || proposed == "image/png")
        && binary_type == Some("image/x-png")
    {
        return proposed.into();
    }
    if s.cdf {
        return "application/x-cdf".into();
    }
    // RDF-based RSS would need a flag the sampler never sets, so only <rss counts.
    if s.rss {
        return "application/rss+xml".into();
    }
    if s.atom {
        return "application/atom+xml".into();
    }
    if s.xml && (!version.contains("strict") || proposed == "text/html" || proposed == "text/xml") {
        return "text/xml".into();
    }
    if s.html && (!version.contains("nohtml") || proposed == "text/plain") {
        return "text/html".into();
    }
    if s.xbm {
        return "image/x-bitmap".into();
    }
    if s.binhex {
        return "application/macbinhex40".into();
    }
    let scriptlet_ok =
        !version.contains("strict") || proposed == "text/plain" || proposed == "text/scriptlet";
    if s.scriptlet && scriptlet_ok {
        return "text/scriptlet".into();
    }
    let kind_of_binary = s.ctrl != 0 && (s.ff + s.low) < (s.ctrl + s.high) * 16;
    let ty = if kind_of_binary {
        binary_type
            .or(text_type)
            .unwrap_or("application/octet-stream")
    } else {
        text_type.or(binary_type).unwrap_or("text/plain")
    };
    if ie_data_format(version, ty) != "ambiguous" {
        return ty.into();
    }
    if proposed_format != "ambiguous"
        && ((proposed_format == "text" && !kind_of_binary)
            || (proposed_format == "binary" && kind_of_binary)
            || proposed_format == "html")
    {
        return proposed.into();
    }
    // The registry lookup by file extension is skipped: the temporary file has none.
    ty.into()
}

fn ie_translate(mime: String) -> String {
    let t = match mime.as_str() {
        "image/pjpeg" => "image/jpeg",
        "image/x-png" => "image/png",
        "image/x-wmf" => "application/x-msmetafile",
        "image/bmp" => "image/x-bmp",
        "application/x-zip-compressed" => "application/zip",
        "application/x-compressed" => "application/x-compress",
        "application/x-gzip-compressed" => "application/x-gzip",
        "audio/mid" => "audio/midi",
        _ => return mime,
    };
    t.to_owned()
}

/// The MIME types the emulated Internet Explorer versions would see in `chunk` (the first
/// 256 bytes of a file) served as `proposed`; duplicates removed, in version order.
pub fn ie_mime_types(chunk: &[u8], proposed: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for v in IE_VERSIONS {
        let t = ie_translate(ie_mime_for_version(v, chunk, proposed));
        if !out.contains(&t) {
            out.push(t);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sniff(bytes: &[u8]) -> String {
        super::sniff(&bytes).unwrap()
    }

    #[test]
    fn extension_tables() {
        assert_eq!(extensions_for_mime("image/jpeg")[0], "jpeg");
        assert_eq!(extensions_for_mime("image/png")[0], "png");
        assert_eq!(extensions_for_mime("text/plain"), vec!["txt"]);
        assert_eq!(extensions_for_mime("IMAGE/X-PNG")[0], "png");
        assert_eq!(extensions_for_mime("image/vnd.wap.wbmp"), vec!["wbmp"]);
        assert!(extensions_for_mime("application/x-php").is_empty());
        assert_eq!(mimes_for_extension("JPG"), vec!["image/jpeg"]);
        assert_eq!(mimes_for_extension("exe"), vec!["application/octet-stream"]);
        assert_eq!(
            mimes_for_extension("svg"),
            vec!["image/svg+xml", "image/svg"]
        );
        assert_eq!(
            mimes_for_extension("xml"),
            vec!["application/xml", "text/xml"]
        );
        assert_eq!(
            mimes_for_extension("docx")[0],
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        );
        assert!(mimes_for_extension("php").is_empty());
        assert_eq!(is_matching_extension("jpg", "image/png"), Some(false));
        assert_eq!(is_matching_extension("PNG", "image/png"), Some(true));
        assert_eq!(is_matching_extension("png", "application/x-foo"), None);
    }

    #[test]
    fn improve() {
        assert_eq!(
            improve_from_extension("unknown/unknown", "exe"),
            "unknown/unknown"
        );
        assert_eq!(
            improve_from_extension("unknown/unknown", "png"),
            "unknown/unknown"
        );
        assert_eq!(
            improve_from_extension("unknown/unknown", "txt"),
            "text/plain"
        );
        assert_eq!(
            improve_from_extension("unknown/unknown", "zzz"),
            "unknown/unknown"
        );
        assert_eq!(
            improve_from_extension("unknown/unknown", "mpg"),
            "video/mpeg"
        );
        assert_eq!(improve_from_extension("text/plain", "csv"), "text/csv");
        assert_eq!(
            improve_from_extension("text/plain", "json"),
            "application/json"
        );
        assert_eq!(improve_from_extension("text/plain", "png"), "text/plain");
        assert_eq!(
            improve_from_extension("application/x-opc+zip", "docx"),
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        );
        assert_eq!(
            improve_from_extension("application/x-opc+zip", "zip"),
            "application/zip"
        );
        assert_eq!(
            improve_from_extension("application/vnd.oasis.opendocument", "odt"),
            "application/vnd.oasis.opendocument.text"
        );
        assert_eq!(improve_from_extension("image/png", "jpg"), "image/png");
        assert_eq!(improve_from_extension("text/xml", "xml"), "application/xml");
    }

    #[test]
    fn media_types() {
        assert_eq!(media_type("image/png", Some("png")), "BITMAP");
        assert_eq!(media_type("image/jpeg", None), "BITMAP");
        assert_eq!(media_type("image/webp", None), "BITMAP");
        assert_eq!(media_type("image/svg+xml", None), "DRAWING");
        assert_eq!(media_type("application/pdf", None), "OFFICE");
        assert_eq!(media_type("audio/mpeg", None), "AUDIO");
        assert_eq!(media_type("video/webm", None), "VIDEO");
        assert_eq!(media_type("application/ogg", None), "MULTIMEDIA");
        assert_eq!(media_type("application/zip", None), "ARCHIVE");
        assert_eq!(media_type("application/sla", None), "3D");
        assert_eq!(media_type("application/javascript", None), "EXECUTABLE");
        assert_eq!(media_type("text/x-foo", None), "TEXT");
        assert_eq!(media_type("unknown/unknown", Some("png")), "BITMAP");
        assert_eq!(media_type("unknown/unknown", None), "UNKNOWN");
        assert_eq!(split_mime("image/png"), ("image".into(), "png".into()));
        assert_eq!(split_mime("weird"), ("weird".into(), "unknown".into()));
        assert_eq!(storable_major_mime("x-conference"), "unknown");
        assert_eq!(storable_major_mime("image"), "image");
    }

    #[test]
    fn ogg_media_type_by_content() {
        let f = b"OggS\0\x02\0\0\0\0\0\0\0\0\x01\x02\x03\x04\0\0\0\0\x01\x1e\x01vorbis";
        assert_eq!(
            media_type_for_content(f, "application/ogg", Some("ogg")).unwrap(),
            "AUDIO"
        );
        let f = b"OggS....\x80theora";
        assert_eq!(
            media_type_for_content(f, "application/ogg", None).unwrap(),
            "VIDEO"
        );
        let f = b"OggS....";
        assert_eq!(
            media_type_for_content(f, "application/ogg", None).unwrap(),
            "MULTIMEDIA"
        );
    }

    #[test]
    fn magic_numbers() {
        assert_eq!(sniff(b"MThd\0\0\0\x06"), "audio/midi");
        assert_eq!(sniff(b"OggS\0\x02"), "application/ogg");
        assert_eq!(sniff(b"ID3\x03\0\0"), "audio/mp3");
        assert_eq!(sniff(b"%PDF-1.4\n"), "application/pdf");
        assert_eq!(sniff(b"gimp xcf file\0"), "image/x-xcf");
        assert_eq!(sniff(b"MZ\x90\0\x03\0\0\0"), "unknown/unknown");
        assert_eq!(sniff(b"\x7fELF\x02\x01"), "unknown/unknown");
        assert_eq!(
            sniff(b"\x01\x00\x09\x00\x00\x03"),
            "application/x-msmetafile"
        );
        assert_eq!(sniff(b"RIFF\x24\0\0\0WEBPVP8 \x18\0\0\0"), "image/webp");
        assert_eq!(
            sniff(b"\x00\x00\x00\x0cjP  \x0d\x0a\x87\x0a\x00\x00\x00\x14ftypjp2 "),
            "image/jp2"
        );
        let mut mkv = b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x88matroska".to_vec();
        mkv.extend_from_slice(&[0; 16]);
        assert_eq!(sniff(&mkv), "video/x-matroska");
        let mut webm = b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm".to_vec();
        webm.extend_from_slice(&[0; 16]);
        assert_eq!(sniff(&webm), "audio/webm");
        webm.extend_from_slice(b"\x86\x85V_VP9");
        assert_eq!(sniff(&webm), "video/webm");
    }

    #[test]
    fn text_formats() {
        assert_eq!(sniff(b"<?php echo 'hello'; ?>\n"), "application/x-php");
        assert_eq!(sniff(b"<p>hi</p>\n"), "application/xml");
        assert_eq!(sniff(b"<html><body>x</body></html>"), "text/html");
        assert_eq!(
            sniff(b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>"),
            "image/svg+xml"
        );
        assert_eq!(sniff(b"<svg/>"), "image/svg+xml");
        assert_eq!(sniff(b"<!DOCTYPE html>\n<html><head><title>x</title></head><body><p>unclosed</body></html>"), "text/html");
        assert_eq!(
            sniff(b"<?xml version=\"1.0\"?>\n<a><b></a>"),
            "application/xml"
        );
        assert_eq!(sniff(b"#!/bin/sh\necho hi\n"), "application/x-sh");
        assert_eq!(sniff(b"#!/usr/bin/env python\n"), "application/x-env");
        assert_eq!(sniff(b"hello world\n"), "text/plain");
        assert_eq!(sniff(b"{\"a\": [1, 2]}"), "application/json");
        assert_eq!(sniff(b""), "unknown/unknown");
        assert_eq!(
            sniff(&[0x01, 0xff, 0x10, 0x80, 0x7f, 0x02, 0x03]),
            "unknown/unknown"
        );
    }

    #[test]
    fn image_formats() {
        assert_eq!(
            sniff(b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0"),
            "image/png"
        );
        assert_eq!(sniff(b"GIF89a\x01\0\x01\0\0\0\0;"), "image/gif");
        assert_eq!(sniff(b"\xff\xd8\xff\xe0\0\x10JFIF"), "image/jpeg");
        assert_eq!(
            sniff(b"BM\x3a\0\0\0\0\0\0\0\x36\0\0\0\x28\0\0\0"),
            "image/x-bmp"
        );
        assert_eq!(sniff(b"II*\0\x08\0\0\0"), "image/tiff");
        assert_eq!(
            sniff(b"8BPS\0\x01\0\0\0\0\0\0\0\x03\0\0\0\x10\0\0\0\x10\0\x08\0\x03"),
            "image/x-photoshop"
        );
        assert_eq!(sniff(b"\0\0\x01\0\x01\0\x10\x10"), "image/x-icon");
        // The reference's "bytes 0..255 repeated" file is a valid WBMP header.
        let garbage: Vec<u8> = (0..8).flat_map(|_| 0u8..=255).collect();
        assert_eq!(sniff(&garbage), "image/vnd.wap.wbmp");
        assert_eq!(
            sniff(b"#define x_width 8\n#define x_height 8\nstatic char x_bits[] = {0};\n"),
            "image/xbm"
        );
    }

    #[test]
    fn zip_stubs_as_libmagic_names_them() {
        let mut stub = b"PK\x03\x04".to_vec();
        assert_eq!(sniff(&stub), UNKNOWN_MIME);
        stub.resize(148, 0);
        assert_eq!(sniff(&stub), UNKNOWN_MIME);
        stub.resize(149, 0);
        assert_eq!(sniff(&stub), "application/zip");
        // A name longer than the file: not an archive.
        stub[26] = 0xff;
        assert_eq!(sniff(&stub), UNKNOWN_MIME);
        let mut eocd_first = b"PK\x05\x06".to_vec();
        eocd_first.extend_from_slice(b"junk after it");
        assert_eq!(sniff(&eocd_first), "application/zip");
    }

    #[test]
    fn zip_and_stl() {
        // An empty ZIP archive: just the end-of-central-directory record.
        let eocd = b"PK\x05\x06\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0";
        assert_eq!(sniff(eocd), "application/zip");
        // One entry named Foo.class.
        let name = b"Foo.class";
        let mut zip = Vec::new();
        zip.extend_from_slice(b"PK\x01\x02");
        zip.extend_from_slice(&[0u8; 24]);
        zip.extend_from_slice(&(name.len() as u16).to_le_bytes());
        zip.extend_from_slice(&[0u8; 16]);
        zip.extend_from_slice(name);
        let cd_len = zip.len() as u32;
        zip.extend_from_slice(b"PK\x05\x06\0\0\0\0\x01\0\x01\0");
        zip.extend_from_slice(&cd_len.to_le_bytes());
        zip.extend_from_slice(&0u32.to_le_bytes());
        zip.extend_from_slice(&[0, 0]);
        assert_eq!(sniff(&zip), "application/java");
        let stl = b"solid cube\nfacet normal 0 0 0\nendfacet\nendsolid cube\n";
        assert_eq!(sniff(stl), "application/sla");
        let mut bin = vec![0u8; 80];
        bin.extend_from_slice(&1u32.to_le_bytes());
        bin.extend_from_slice(&[1u8; 50]);
        assert_eq!(sniff(&bin), "application/sla");
    }

    #[test]
    fn ie_emulation() {
        // An MZ stub served as .exe (application/octet-stream).
        let mut mz = b"MZ\x90\0\x03\0\0\0\x04\0\0\0\xff\xff\0\0".to_vec();
        mz.resize(166, 0);
        assert!(ie_mime_types(&mz, "application/octet-stream")
            .contains(&"application/x-msdownload".to_owned()));
        // A PNG with a <script> text chunk: old IE sees HTML, IE 7 trusts the PNG.
        let mut png =
            b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0\x90wS\xde".to_vec();
        png.extend_from_slice(b"\0\0\0\x1etEXtComment\0<script>alert(1)</script>");
        let types = ie_mime_types(&png, "image/png");
        assert_eq!(types, vec!["text/html".to_owned(), "image/png".to_owned()]);
        // Plain text served as PNG stays plain text.
        assert_eq!(
            ie_mime_types(b"hello world", "image/png"),
            vec!["text/plain".to_owned()]
        );
        // A GIF served as GIF is a GIF.
        assert_eq!(
            ie_mime_types(b"GIF89a\x01\0\x01\0<html>", "image/gif"),
            vec!["image/gif".to_owned()]
        );
        // Unknown proposed types are trusted.
        assert_eq!(
            ie_mime_types(b"<html>", "image/svg+xml"),
            vec!["image/svg+xml".to_owned()]
        );
        // HTML served as text/plain: every version but nohtml... which also sniffs text/plain.
        assert_eq!(
            ie_mime_types(b"<html><body>", "text/plain"),
            vec!["text/html".to_owned()]
        );
        assert_eq!(
            ie_mime_types(b"", "image/png"),
            vec!["image/png".to_owned()]
        );
        assert_eq!(
            ie_mime_types(b"<?xml version", "text/plain"),
            vec!["text/xml".to_owned(), "text/plain".to_owned()]
        );
    }
}
