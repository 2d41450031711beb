"""The lesson pages, one per module of symbreak/lessons/ with the same name; `common` holds what they share.

LESSON_PAGES names the lessons a teacher can send a class to (file -> title)."""

LESSON_PAGES = {
    "pages/lessons/wasted.py": "Why a tie wastes the network",
    "pages/lessons/init_scale.py": "How big a random start",
    "pages/lessons/course.py": "The course's initialization experiment",
    "pages/lessons/gradients.py": "Why the gradients match",
    "pages/lessons/breakers.py": "What breaks symmetry",
    "pages/lessons/no_hidden.py": "No hidden layer",
    "pages/lessons/split_speed.py": "How fast they split",
}
