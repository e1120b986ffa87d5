"""VERIFY.md of a package: how to check it with stock tools, in Chinese and English. Pure."""

from __future__ import annotations


def verify_md(*, key_name: str, verifier_key: str, is_zip: bool, has_tsr: bool) -> str:
    """The text; ``key_name`` names the files custody/keys/<name>.pem and the .sig file."""
    pem = f"custody/keys/{key_name}.pem"
    sig = f"custody/checkpoint.{key_name}.sig"
    openssl = (
        f"openssl pkeyutl -verify -pubin -inkey {pem} -rawin "
        f"-in custody/checkpoint.body -sigfile {sig}"
    )
    package_hash = (
        "本包为单个 zip 文件：包的 SHA-256 即该 zip 文件的 SHA-256（`sha256sum 包名.zip`）。"
        if is_zip
        else "本包为目录：包的 SHA-256 是 `tagmanifest-sha256.txt` 文件的 SHA-256"
        "（`sha256sum tagmanifest-sha256.txt`），该文件列出其余所有标签文件的散列，"
        "`manifest-sha256.txt` 又列出全部载荷文件的散列。"
    )
    package_hash_en = (
        "This package is one zip file: the package's SHA-256 is the zip file's SHA-256."
        if is_zip
        else "This package is a folder: the package's SHA-256 is the SHA-256 of "
        "`tagmanifest-sha256.txt` (`sha256sum tagmanifest-sha256.txt`), which names the hash "
        "of every other tag file, `manifest-sha256.txt` among them, which names every payload "
        "file's hash."
    )
    unzip = "先解压 / unzip first: `unzip PACKAGE.zip -d bag && cd bag`\n\n" if is_zip else ""
    tsr = (
        "\n时间戳 / timestamp (RFC 3161): `openssl ts -reply -in custody/checkpoint.tsr -text`; "
        "with the TSA's chain: `openssl ts -verify -data custody/checkpoint -in "
        "custody/checkpoint.tsr -CAfile tsa-chain.pem`\n"
        if has_tsr
        else ""
    )
    return f"""# 如何核验本证据包 / How to verify this evidence package

本包是 BagIt 包（RFC 8493），由 evidock 生成。任何人都可以不依赖 evidock 自行核验。
This package is a BagIt bag (RFC 8493) made by evidock. Anyone can check it without evidock.

{package_hash}

{package_hash_en}

{unzip}## 1. 文件完整性 / Files and their hashes

```
sha256sum -c manifest-sha256.txt
sha256sum -c tagmanifest-sha256.txt
```

每一行都应为 OK。/ Every line must say OK.
`bag-info.txt` 中的 Payload-Oxum 为“字节数.文件数”。/ Payload-Oxum in bag-info.txt is
"bytes.files" of data/.

## 2. 检查点签名 / The checkpoint signature (Ed25519)

`custody/checkpoint` 是签名的检查点（C2SP signed note）。其正文与签名另存为两个文件，
可用 OpenSSL 3 直接核验：/ `custody/checkpoint` is the signed checkpoint (a C2SP signed
note); its body and signature are also stored as two files, checked with OpenSSL 3 as they are:

```
{openssl}
```

应输出 `Signature Verified Successfully`。/ It must print `Signature Verified Successfully`.

请将 `custody/keys/{key_name}.vkey` 中的公钥与本机关公布的公钥核对：包内的公钥只能证明本包
自身一致。/ Compare the key in `custody/keys/{key_name}.vkey` with the key the office
publishes: a key taken from the package only shows that the package is consistent with itself.

本包所用公钥 / the key used: `{verifier_key}`
{tsr}
## 3. 全部核验 / Everything, with the included script

```
python3 verify_bag.py .  --key '{verifier_key}'
```

`verify_bag.py` 只用 Python 标准库，可逐行阅读。它核验：清单与每个文件；
`custody/events.jsonl` 中每条保管事件的叶哈希（RFC 6962）及其到检查点根的包含证明；
检查点的 Ed25519 签名（按 RFC 8032 自行计算）；每个原始文件的 SHA-256 与其保管事件所记载的一致；
每个查看副本都有 `transcoded` 事件说明其由哪个原始文件生成。
/ `verify_bag.py` uses the Python standard library only and can be read in one sitting. It
checks the manifests and every file; each custody event's RFC 6962 leaf hash in
`custody/events.jsonl` and its inclusion proof against the checkpoint's root; the
checkpoint's Ed25519 signature (computed per RFC 8032 in the script); that each original's
SHA-256 is the one its custody events name; and that each view copy is named by a
`transcoded` event as derived from an original.

有 evidock 时 / with evidock: `evidock verify-export . --key '{verifier_key}'`

## 文件 / Files

- `data/originals/`：原始录音录像，未经改动，文件名为“项目号-SHA256前缀.扩展名” /
  the untouched originals, named `<item>-<sha256 prefix>.<ext>`
- `data/copies/`：查看副本，画面中烧录了接收人、案件、日期与用途 / view copies with the
  recipient, case, date and purpose burned in
- `custody/events.jsonl`, `custody/checkpoint*`, `custody/keys/`: 保管链与证明 / custody
  events and their proofs
- `custody/files.json`：每个载荷文件对应的项目与来源 / which item each payload file is
- `receipt.pdf`：交付回执 / the receipt of disclosure
"""
