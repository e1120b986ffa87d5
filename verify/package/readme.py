"""VERIFY.md of a package: how to check it with stock tools, in the reader's language. Pure.

Each paragraph is one message of the catalog (issue 20): the package is written in the
language of whoever builds it (Chinese by default). Command lines, file names and keys are
values put into the paragraphs, never translated, so they can be copied as they are.
"""

from __future__ import annotations

from i18n import _


def verify_md(*, key_name: str, verifier_key: str, is_zip: bool, has_tsr: bool) -> str:
    """The text; ``key_name`` names the files custody/keys/<name>.pem and the .sig file."""
    pem = f"custody/keys/{key_name}.pem"
    sig = f"custody/checkpoint.{key_name}.sig"
    openssl = (
        f"openssl pkeyutl -verify -pubin -inkey {pem} -rawin "
        f"-in custody/checkpoint.body -sigfile {sig}"
    )
    if is_zip:
        package_hash = _(
            "This package is one zip file: the package's SHA-256 is the zip file's SHA-256 "
            "(`{command}`)."
        ).format(command="sha256sum PACKAGE.zip")
    else:
        package_hash = _(
            "This package is a folder: the package's SHA-256 is the SHA-256 of "
            "`tagmanifest-sha256.txt` (`{command}`), which names the hash of every other tag "
            "file, `manifest-sha256.txt` among them, which names every payload file's hash."
        ).format(command="sha256sum tagmanifest-sha256.txt")
    lines = [
        "# " + _("How to verify this evidence package"),
        "",
        _(
            "This package is a BagIt bag (RFC 8493) made by evidock. Anyone can check it "
            "without evidock."
        ),
        "",
        package_hash,
        "",
    ]
    if is_zip:
        unzip = "unzip PACKAGE.zip -d bag && cd bag"
        lines += [_("Unzip it first: `{command}`").format(command=unzip), ""]
    lines += [
        "## 1. " + _("Files and their hashes"),
        "",
        "```",
        "sha256sum -c manifest-sha256.txt",
        "sha256sum -c tagmanifest-sha256.txt",
        "```",
        "",
        _('Every line must say OK. Payload-Oxum in `bag-info.txt` is "bytes.files" of `data/`.'),
        "",
        "## 2. " + _("The checkpoint signature (Ed25519)"),
        "",
        _(
            "`custody/checkpoint` is the signed checkpoint (a C2SP signed note); its body and "
            "signature are also stored as two files, checked with OpenSSL 3 as they are:"
        ),
        "",
        "```",
        openssl,
        "```",
        "",
        _("It must print `{output}`.").format(output="Signature Verified Successfully"),
        "",
        _(
            "Compare the key in `{file}` with the key the office publishes: a key taken from "
            "the package only shows that the package is consistent with itself."
        ).format(file=f"custody/keys/{key_name}.vkey"),
        "",
        _("The key used: `{key}`").format(key=verifier_key),
    ]
    if has_tsr:
        show = "openssl ts -reply -in custody/checkpoint.tsr -text"
        check = (
            "openssl ts -verify -data custody/checkpoint -in custody/checkpoint.tsr "
            "-CAfile tsa-chain.pem"
        )
        lines += [
            "",
            _("Timestamp (RFC 3161): `{show}`; with the TSA's chain: `{check}`").format(
                show=show, check=check
            ),
        ]
    lines += [
        "",
        "## 3. " + _("Everything, with the included script"),
        "",
        "```",
        f"python3 verify_bag.py .  --key '{verifier_key}'",
        "```",
        "",
        _(
            "`verify_bag.py` uses the Python standard library only and can be read in one "
            "sitting. It checks the manifests and every file; each custody event's RFC 6962 "
            "leaf hash in `custody/events.jsonl` and its inclusion proof against the "
            "checkpoint's root; the checkpoint's Ed25519 signature (computed per RFC 8032 in "
            "the script); that each original's SHA-256 is the one its custody events name; and "
            "that each view copy is named by a `transcoded` event as derived from an original."
        ),
        "",
        _("With evidock: `{command}`").format(
            command=f"evidock verify-export . --key '{verifier_key}'"
        ),
        "",
        "## " + _("Files"),
        "",
        "- `data/originals/`: "
        + _("the untouched originals, named `<item>-<sha256 prefix>.<ext>`"),
        "- `data/copies/`: "
        + _("view copies with the recipient, case, date and purpose burned in"),
        "- `custody/events.jsonl`, `custody/checkpoint*`, `custody/keys/`: "
        + _("custody events and their proofs"),
        "- `custody/files.json`: " + _("which item each payload file is"),
        "- `receipt.pdf`: " + _("the receipt of disclosure"),
    ]
    return "\n".join(lines) + "\n"
