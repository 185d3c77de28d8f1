"""Packaging for the 7x24 self-service station: the kiosk, its device drivers, and the back office.

Extras let each machine install only what it needs:
  terminal   — the touchscreen app, drivers, face verification, voice
  backoffice — the receiving HTTP service
  dev        — tests and benchmarks (everything above plus pytest/hypothesis)
The pinned, known-good set for all of them is requirements.txt (used by ./dev).
"""
from setuptools import find_packages, setup

CORE = ["click>=8.1", "pydantic>=2.6", "PyYAML>=6", "pypinyin>=0.50", "PyNaCl>=1.5",
        "uuid6>=2024.1", "httpx>=0.27", "numpy>=1.26", "Pillow>=10", "qrcode>=7.4"]
DEVICES = ["pyserial>=3.5", "python-escpos>=3.1", "opencv-python-headless>=4.8", "img2pdf>=0.5"]
FACE = ["dlib-bin>=19.24", "face-recognition-models>=0.3", "setuptools<81"]
# face_recognition itself is installed with --no-deps (its metadata asks for a source dlib).
TERMINAL = DEVICES + FACE + ["Kivy==2.3.1", "pyttsx3>=2.90"]
BACKOFFICE = ["fastapi>=0.110", "uvicorn>=0.29", "SQLAlchemy>=2.0", "Jinja2>=3.1",
              "python-multipart>=0.0.9", "psycopg[binary]>=3.2", "alembic>=1.13"]
DEV = ["pytest>=8", "pytest-timeout>=2.3", "hypothesis>=6.100"]

setup(
    name="gov-kiosk",
    version="0.1.0",
    description="Firmware and app for unattended 7x24 government self-service stations",
    python_requires=">=3.11",
    packages=find_packages(include=["kiosk*", "devices*", "flows*", "voice*", "protocol*",
                                    "backoffice*"]),
    include_package_data=True,
    data_files=[("share/gov-kiosk/config", ["config/default.toml"])],
    package_data={
        "flows": ["matters/*.yaml", "*.yaml"],
        "devices": ["id_card/scenarios/*.yaml"],
        "backoffice": ["templates/*.html", "static/*", "migrations/versions/*.py"],
    },
    install_requires=CORE,
    extras_require={
        "devices": DEVICES,
        "terminal": TERMINAL,
        "backoffice": BACKOFFICE,
        "dev": TERMINAL + BACKOFFICE + DEV,
    },
    entry_points={
        "console_scripts": [
            "kiosk=kiosk.cli:main",
            "kiosk-uploader=kiosk.cli.uploader:main",
            "backoffice=backoffice.cli:main",
        ]
    },
)
