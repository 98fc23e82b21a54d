"""Rebuild the built-in spoken sample with espeak-ng (Debian package ``espeak-ng``).

The clips ship in the wheel, so users never need espeak-ng; this module documents exactly how
they were made and lets anyone regenerate or extend them (``semhub make-speech``). espeak-ng's
output is synthetic speech with no licence restriction on the audio (the program is GPL; its
output is not covered); the sentences were written for semhub (Apache-2.0).
"""
from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from semhub import SemhubError

RATE = 16_000
SPEED_WPM = 140  # slower than espeak's default 175: Whisper transcribes it noticeably better
VOICES = {"en": "en-us", "es": "es", "fr": "fr", "de": "de"}

# (en, es, fr, de): short everyday sentences with the same meaning.
SENTENCES = [
    ("The cat sleeps on the warm window.", "El gato duerme en la ventana caliente.",
     "Le chat dort sur la fenêtre chaude.", "Die Katze schläft am warmen Fenster."),
    ("I drink coffee every morning.", "Bebo café todas las mañanas.", "Je bois du café tous les matins.",
     "Ich trinke jeden Morgen Kaffee."),
    ("The train leaves at nine o'clock.", "El tren sale a las nueve.", "Le train part à neuf heures.",
     "Der Zug fährt um neun Uhr ab."),
    ("My brother lives in a big city.", "Mi hermano vive en una ciudad grande.",
     "Mon frère habite dans une grande ville.", "Mein Bruder wohnt in einer großen Stadt."),
    ("It is raining today.", "Hoy está lloviendo.", "Il pleut aujourd'hui.", "Heute regnet es."),
    ("The children are playing in the park.", "Los niños juegan en el parque.",
     "Les enfants jouent dans le parc.", "Die Kinder spielen im Park."),
    ("Where is the train station?", "¿Dónde está la estación de tren?", "Où est la gare?", "Wo ist der Bahnhof?"),
    ("I would like a glass of water.", "Quiero un vaso de agua.", "Je voudrais un verre d'eau.",
     "Ich möchte ein Glas Wasser."),
    ("The book is on the table.", "El libro está sobre la mesa.", "Le livre est sur la table.",
     "Das Buch liegt auf dem Tisch."),
    ("We are going to the beach tomorrow.", "Mañana vamos a la playa.", "Demain nous allons à la plage.",
     "Morgen fahren wir an den Strand."),
    ("She reads a newspaper.", "Ella lee un periódico.", "Elle lit un journal.", "Sie liest eine Zeitung."),
    ("The dog is barking at the door.", "El perro ladra en la puerta.", "Le chien aboie à la porte.",
     "Der Hund bellt an der Tür."),
    ("I do not understand the question.", "No entiendo la pregunta.", "Je ne comprends pas la question.",
     "Ich verstehe die Frage nicht."),
    ("The shop closes at six.", "La tienda cierra a las seis.", "Le magasin ferme à six heures.",
     "Der Laden schließt um sechs."),
    ("My mother cooks dinner.", "Mi madre prepara la cena.", "Ma mère prépare le dîner.",
     "Meine Mutter kocht das Abendessen."),
    ("The sky is blue and clear.", "El cielo está azul y despejado.", "Le ciel est bleu et clair.",
     "Der Himmel ist blau und klar."),
    ("He plays the guitar very well.", "Él toca muy bien la guitarra.", "Il joue très bien de la guitare.",
     "Er spielt sehr gut Gitarre."),
    ("We need more bread and milk.", "Necesitamos más pan y leche.", "Nous avons besoin de plus de pain et de lait.",
     "Wir brauchen mehr Brot und Milch."),
    ("The teacher opens the window.", "La profesora abre la ventana.", "La professeure ouvre la fenêtre.",
     "Die Lehrerin öffnet das Fenster."),
    ("How much does this cost?", "¿Cuánto cuesta esto?", "Combien ça coûte?", "Wie viel kostet das?"),
    ("The flowers in the garden are red.", "Las flores del jardín son rojas.", "Les fleurs du jardin sont rouges.",
     "Die Blumen im Garten sind rot."),
    ("I am very tired tonight.", "Estoy muy cansado esta noche.", "Je suis très fatigué ce soir.",
     "Ich bin heute Abend sehr müde."),
    ("The car is in the garage.", "El coche está en el garaje.", "La voiture est dans le garage.",
     "Das Auto steht in der Garage."),
    ("Please close the door.", "Por favor, cierra la puerta.", "Ferme la porte, s'il te plaît.",
     "Bitte schließ die Tür."),
    ("The river flows to the sea.", "El río fluye hacia el mar.", "La rivière coule vers la mer.",
     "Der Fluss fließt ins Meer."),
    ("My friend has two cats.", "Mi amigo tiene dos gatos.", "Mon ami a deux chats.", "Mein Freund hat zwei Katzen."),
    ("The soup is too hot.", "La sopa está demasiado caliente.", "La soupe est trop chaude.", "Die Suppe ist zu heiß."),
    ("We live near the mountains.", "Vivimos cerca de las montañas.", "Nous habitons près des montagnes.",
     "Wir wohnen in der Nähe der Berge."),
    ("The baby is sleeping now.", "El bebé está durmiendo ahora.", "Le bébé dort maintenant.",
     "Das Baby schläft jetzt."),
    ("I lost my keys yesterday.", "Ayer perdí mis llaves.", "J'ai perdu mes clés hier.",
     "Ich habe gestern meine Schlüssel verloren."),
]

# (en, es, fr, de, class): spoken animal names for the mammal / non-mammal intervention.
ANIMALS = [
    ("dog", "perro", "chien", "Hund", "mammal"), ("cat", "gato", "chat", "Katze", "mammal"),
    ("horse", "caballo", "cheval", "Pferd", "mammal"), ("cow", "vaca", "vache", "Kuh", "mammal"),
    ("sheep", "oveja", "mouton", "Schaf", "mammal"), ("lion", "león", "lion", "Löwe", "mammal"),
    ("elephant", "elefante", "éléphant", "Elefant", "mammal"), ("mouse", "ratón", "souris", "Maus", "mammal"),
    ("monkey", "mono", "singe", "Affe", "mammal"), ("pig", "cerdo", "cochon", "Schwein", "mammal"),
    ("bird", "pájaro", "oiseau", "Vogel", "non-mammal"), ("frog", "rana", "grenouille", "Frosch", "non-mammal"),
    ("snake", "serpiente", "serpent", "Schlange", "non-mammal"), ("fish", "pez", "poisson", "Fisch", "non-mammal"),
    ("owl", "búho", "hibou", "Eule", "non-mammal"), ("duck", "pato", "canard", "Ente", "non-mammal"),
    ("chicken", "gallina", "poule", "Huhn", "non-mammal"), ("bee", "abeja", "abeille", "Biene", "non-mammal"),
    ("mosquito", "mosquito", "moustique", "Mücke", "non-mammal"), ("crow", "cuervo", "corbeau", "Krähe", "non-mammal"),
]


def speak(text: str, lang: str, out: Path) -> None:
    """One clip: espeak-ng -> 22.05 kHz WAV -> 16 kHz mono Ogg Vorbis (a third of FLAC's size)."""
    import soundfile as sf
    from scipy.signal import resample_poly

    exe = shutil.which("espeak-ng")
    if exe is None:
        raise SemhubError("espeak-ng is not installed (Debian: apt-get install espeak-ng)")
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "clip.wav"
        subprocess.run([exe, "-v", VOICES[lang], "-s", str(SPEED_WPM), "-w", str(wav), text], check=True)
        data, rate = sf.read(str(wav), dtype="float32")
    from fractions import Fraction

    ratio = Fraction(RATE, rate)
    data = resample_poly(data, ratio.numerator, ratio.denominator).astype(np.float32)
    out.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(out), data, RATE, format="OGG", subtype="VORBIS")


def speech_pairs(rows: list[dict], langs: list[str]) -> list[dict]:
    """One row per clip (120: 30 sentences x 4 languages), views ``audio`` and ``text_transcript``:
    enough items for k-NN alignment between a speech encoder and a language model."""
    return [{"id": f"{r['id']}-{lang}", "lang": lang, "audio": r[f"audio_{lang}"], "text_transcript": r[lang]}
            for lang in langs for r in rows]


def build(folder: Path) -> None:
    """Write ``speech.jsonl`` + ``speech/<lang>/NN.ogg`` (and ``speech_pairs.jsonl``, the same clips one per
    row) and ``animals.jsonl`` + ``animals/<lang>/*.ogg``."""
    langs = list(VOICES)
    rows = []
    for i, texts in enumerate(SENTENCES, 1):
        row = {"id": f"s{i:02d}"}
        for lang, text in zip(langs, texts):
            rel = f"speech/{lang}/{i:02d}.ogg"
            speak(text, lang, folder / rel)
            row[f"audio_{lang}"] = rel
        row.update(zip(langs, texts))
        rows.append(row)
    (folder / "speech.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    (folder / "speech_pairs.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n"
                                                       for r in speech_pairs(rows, langs)))
    rows = []
    for *names, cls in ANIMALS:
        row = {"id": names[0]}
        for lang, name in zip(langs, names):
            rel = f"animals/{lang}/{names[0]}.ogg"
            speak(name, lang, folder / rel)
            row[f"audio_{lang}"] = rel
        row.update(zip(langs, names))
        row["class"] = cls
        rows.append(row)
    (folder / "animals.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


if __name__ == "__main__":
    build(Path(__file__).parent)
