"""The speech recognizer's held-out evaluation set: lines a player might say to a character, written for this
project and never used to choose a setting.

A Python module rather than a text file so that it ships in the wheel without a package-data rule. Two lines carry
digits, so the scoring's number normalization is exercised.
"""

HELDOUT_SENTENCES: tuple[str, ...] = (
    "Could you pass me the salt, please?",
    "I think we should leave before it starts raining.",
    "Where did you put the keys to the old truck?",
    "That was the best dinner I have had in weeks.",
    "Let's meet at the north gate in 10 minutes.",
    "I'm not sure I trust the merchant by the river.",
    "Can you tell me how to get to the castle from here?",
    "We need 3 more players before the match can start.",
    "Honestly, I thought you would never come back.",
    "My sister found a little dog sleeping in the barn.",
    "Do you want to go fishing with us tomorrow morning?",
    "The bridge is closed, so we have to take the long road.",
    "Thank you for helping me carry all of these boxes.",
    "I lost my map somewhere in the forest last night.",
    "Why is everyone in the village so quiet today?",
    "Please wait here while I talk to the captain.",
    "If we hurry, we can still catch the last train home.",
    "I would like two loaves of bread and a jar of honey.",
    "Have you ever seen the ocean during a storm?",
    "Keep your voice down, the guards are right outside.",
    "Tell me again what happened at the festival.",
    "The weather looks lovely, let's eat lunch in the garden.",
    "I can't find my phone, could you call it for me?",
    "We should be home before the sun goes down.",
)
