"""The question grammar on a table of operator phrasings (issue #20): written from the kinds of the
development set's tuning half and the issue's examples, never from the check half. Each row: the
question, its intent, the subject's head noun, its modifiers, the predicate (lemmatised), the ordinal or
distinct-count kind, and the time reference. Pure parsing: fast."""
# ruff: noqa: E501  (one question a row)

import pytest

from vstream_ros.answering.phrases import noun_lemma, plural
from vstream_ros.answering.question import Intent, TimeKind, parse
from vstream_ros.answering.words import a_phrase, the_complement

PRESENCE, WHEN, FIRST_SEEN, LAST_SEEN = Intent.PRESENCE, Intent.WHEN, Intent.FIRST_SEEN, Intent.LAST_SEEN
COUNT, ATTRIBUTE, WHERE, DESCRIBE = Intent.COUNT, Intent.ATTRIBUTE, Intent.WHERE, Intent.DESCRIBE
ORDINAL, TEXT = Intent.ORDINAL, Intent.TEXT

# (question, intent, head, modifiers, predicate, kind: "ordinal N" | "distinct" | "", time kind)
TABLE = [
    ('Did a white van pull in?', PRESENCE, 'van', ('white',), 'pull in', '', None),
    ('Has anybody crossed the hall?', PRESENCE, 'person', (), 'cross', '', None),
    ('Did you see someone carrying a box?', PRESENCE, 'person', ('carrying box',), '', '', None),
    ('When did the third visitor arrive?', ORDINAL, 'visitor', (), 'arrive', 'ordinal 3', None),
    ('Was there a woman wearing a hat?', PRESENCE, 'woman', ('wearing hat',), '', '', None),
    ('Did a man in a red jacket come by?', PRESENCE, 'man', ('in red jacket',), 'come by', '', None),
    ('Where was this?', WHERE, '', (), '', '', None),
    ('How many people came in?', COUNT, 'person', (), 'come in', 'distinct', None),
    ('How many cars passed?', COUNT, 'car', (), 'pass', 'distinct', None),
    ('When did she leave?', LAST_SEEN, 'person', (), 'leave', '', None),
    ('When did the second person arrive?', ORDINAL, 'person', (), 'arrive', 'ordinal 2', None),
    ('When did the first car leave?', ORDINAL, 'car', (), 'leave', 'ordinal 1', None),
    ('What did the sign say?', TEXT, 'sign', (), '', '', None),
    ('What did the camera show 5 seconds ago?', Intent.AT_TIME, '', (), '', '', TimeKind.AGO),
    ('Did you see the word EXIT?', TEXT, '', (), '', '', None),
    ('What was written on the box?', TEXT, 'box', (), '', '', None),
    ('Did you see any cups?', PRESENCE, 'cup', (), '', '', None),
    ('Was there somebody at the table?', PRESENCE, 'person', ('at table',), '', '', None),
    ('Did you see a dog?', PRESENCE, 'dog', (), '', '', None),
    ('Was there a bottle on the table?', PRESENCE, 'bottle', ('on table',), '', '', None),
    ("Did you see the woman's face?", PRESENCE, 'face', ("woman's",), '', '', None),
    ('When were the cups being shuffled around?', WHEN, 'cup', (), 'shuffle', '', None),
    ('When did the shuffling start?', WHEN, 'shuffling', (), 'start', '', None),
    ('When did you last see the cups?', LAST_SEEN, 'cup', (), '', '', None),
    ('How many cups were there?', COUNT, 'cup', (), '', '', None),
    ('What colour were the cups?', ATTRIBUTE, 'cup', (), '', '', None),
    ('Which way did the two young men walk?', ATTRIBUTE, 'man', ('two', 'young'), '', '', None),
    ('In which direction did the cars drive?', ATTRIBUTE, 'car', (), '', '', None),
    ('What direction was the cyclist heading?', ATTRIBUTE, 'cyclist', (), '', '', None),
    ('What colour was the top the woman wore?', ATTRIBUTE, 'top', ('woman wore',), '', '', None),
    ('Did you see a mug?', PRESENCE, 'mug', (), '', '', None),
    ('Did someone pour something?', PRESENCE, 'person', (), 'pour', '', None),
    ('Was there a laptop on the table?', PRESENCE, 'laptop', ('on table',), '', '', None),
    ("Did you see the person's face?", PRESENCE, 'face', ("person's",), '', '', None),
    ('Did the person drink from the mug?', PRESENCE, 'person', (), 'drink', '', None),
    ('When was coffee being poured?', WHEN, 'coffee', (), 'pour', '', None),
    ('When did the pouring start?', WHEN, 'pouring', (), 'start', '', None),
    ('When did you last see the blue mug?', LAST_SEEN, 'mug', ('blue',), '', '', None),
    ('How many mugs were on the table?', COUNT, 'mug', (), '', '', None),
    ('What colour was the mug?', ATTRIBUTE, 'mug', (), '', '', None),
    ("What colour was the person's T-shirt?", ATTRIBUTE, 't-shirt', ("person's",), '', '', None),
    ('Were there any children?', PRESENCE, 'child', (), '', '', None),
    ('Was there an adult in the room?', PRESENCE, 'adult', ('in room',), '', '', None),
    ('Was anyone wearing a hat?', PRESENCE, 'person', ('wearing hat',), '', '', None),
    ('Did the boy leave the room?', PRESENCE, 'boy', (), 'leave', '', None),
    ('When was the boy standing up on the bed?', WHEN, 'boy', (), 'stand up', '', None),
    ('When did a third child come in?', ORDINAL, 'child', (), 'come in', 'ordinal 3', None),
    ('When did you last see the girl?', LAST_SEEN, 'girl', (), '', '', None),
    ('How many children were in the room?', COUNT, 'child', (), '', '', None),
    ("What colour was the girl's skirt?", ATTRIBUTE, 'skirt', ("girl's",), '', '', None),
    ("What colour were the boy's shorts?", ATTRIBUTE, 'shorts', ("boy's",), '', '', None),
    ('Has anybody walked past?', PRESENCE, 'person', (), 'walk past', '', None),
    ('Did you see someone carrying a backpack?', PRESENCE, 'person', ('carrying backpack',), '', '', None),
    ('Did a bicycle go by?', PRESENCE, 'bicycle', (), 'go by', '', None),
    ('Did you see a car?', PRESENCE, 'car', (), '', '', None),
    ('When were the two young men on camera?', WHEN, 'man', ('two', 'young'), '', '', None),
    ('When did you first see someone walking along the far side by the white wall?', FIRST_SEEN, 'person', (), 'walk', '', None),
    ('When did the man with the backpack leave?', LAST_SEEN, 'man', ('with backpack',), 'leave', '', None),
    ('How many people were on camera at once?', COUNT, 'person', (), '', '', None),
    ('What colour was the bag of the woman in the white shirt?', ATTRIBUTE, 'bag', ('of woman', 'in white shirt'), '', '', None),
    ('What colour were the trousers of the man with the backpack?', ATTRIBUTE, 'trousers', ('of man', 'with backpack'), '', '', None),
    ('When did the second of the two women at the far side appear?', ORDINAL, 'woman', ('at far side',), '', 'ordinal 2', None),
    ('Did you see a motorcycle?', PRESENCE, 'motorcycle', (), '', '', None),
    ('Did a truck go by?', PRESENCE, 'truck', (), 'go by', '', None),
    ('Did you see a bicycle?', PRESENCE, 'bicycle', (), '', '', None),
    ('Was anybody walking beside the road?', PRESENCE, 'person', (), 'walk', '', None),
    ('Did a bus pass?', PRESENCE, 'bus', (), 'pass', '', None),
    ('When was the red car on camera?', WHEN, 'car', ('red',), '', '', None),
    ('When did the box truck first appear?', FIRST_SEEN, 'truck', ('box',), '', '', None),
    ('When did you last see the box truck?', LAST_SEEN, 'truck', ('box',), '', '', None),
    ('How many box trucks passed?', COUNT, 'truck', ('box',), 'pass', 'distinct', None),
    ('What colour was the box truck?', ATTRIBUTE, 'truck', ('box',), '', '', None),
    ('Did you see a sign?', PRESENCE, 'sign', (), '', '', None),
    ("Did you see anyone's face?", PRESENCE, 'face', ("anyone's",), '', '', None),
    ('Was there a cup on the table?', PRESENCE, 'cup', ('on table',), '', '', None),
    ('Did the words on the sign change?', PRESENCE, 'word', ('on sign',), 'change', '', None),
    ('What was the first word on the sign?', TEXT, 'sign', (), '', 'ordinal 1', None),
    ('When was the sign lit up?', WHEN, 'sign', (), 'light up', '', None),
    ("When did the sign's light come on?", WHEN, 'light', ("sign's",), 'come on', '', None),
    ('When did you last see the sign lit?', LAST_SEEN, 'sign', (), 'light', '', None),
    ('How many lines of text were on the sign?', COUNT, 'line', ('of text',), '', '', None),
    ('What colour were the letters?', ATTRIBUTE, 'letter', (), '', '', None),
    ('Is there a football goal?', PRESENCE, 'goal', ('football',), '', '', None),
    ('Did you see a net?', PRESENCE, 'net', (), '', '', None),
    ('Did you see a person?', PRESENCE, 'person', (), '', '', None),
    ('Was there a ball?', PRESENCE, 'ball', (), '', '', None),
    ('When did you see the goal?', WHEN, 'goal', (), '', '', None),
    ('When did the goal first appear?', FIRST_SEEN, 'goal', (), '', '', None),
    ('How many people did you see?', COUNT, 'person', (), '', '', None),
    ('What colour is the floor?', ATTRIBUTE, 'floor', (), '', '', None),
    ('What colour are the goal posts?', ATTRIBUTE, 'post', ('goal',), '', '', None),
    ('Is there a child on a swing?', PRESENCE, 'child', ('on swing',), '', '', None),
    ('Did you see a man?', PRESENCE, 'man', (), '', '', None),
    ('Were there any benches?', PRESENCE, 'bench', (), '', '', None),
    ('When did you see the man in the black T-shirt?', WHEN, 'man', ('in black t-shirt',), '', '', None),
    ('When did the child first appear?', FIRST_SEEN, 'child', (), '', '', None),
    ('When did you last see the man?', LAST_SEEN, 'man', (), '', '', None),
    ('How many children were there?', COUNT, 'child', (), '', '', None),
    ("What colour was the man's T-shirt?", ATTRIBUTE, 't-shirt', ("man's",), '', '', None),
    ("What colour were the man's trousers?", ATTRIBUTE, 'trousers', ("man's",), '', '', None),
    ("What colour were the child's shoes?", ATTRIBUTE, 'shoe', ("child's",), '', '', None),
    ('Is someone wearing glasses?', PRESENCE, 'person', ('wearing glasses',), '', '', None),
    ('Did you see a window?', PRESENCE, 'window', (), '', '', None),
    ('When did you first see the man?', FIRST_SEEN, 'man', (), '', '', None),
    ('What colour are his glasses?', ATTRIBUTE, 'glasses', ('his',), '', '', None),
    ('Were there any cars on the street?', PRESENCE, 'car', ('on street',), '', '', None),
    ('Is there a person anywhere in the footage?', PRESENCE, 'person', (), '', '', None),
    ('Have you seen a taxi yet?', PRESENCE, 'taxi', (), '', '', None),
    ('Did you spot a giraffe?', PRESENCE, 'giraffe', (), '', '', None),
    ('When was a bicycle on camera?', WHEN, 'bicycle', (), '', '', None),
    ('What time did the taxi first appear?', FIRST_SEEN, 'taxi', (), '', '', None),
    ('When did you last see a car?', LAST_SEEN, 'car', (), '', '', None),
    ('How many taxis did you see?', COUNT, 'taxi', (), '', '', None),
    ('How many people walked past the bicycle parked against the wall?', COUNT, 'person', (), 'walk past', 'distinct', None),
    ("What colour is the taxi's roof sign?", ATTRIBUTE, 'sign', ("taxi's", 'roof'), '', '', None),
    ("What colour was the cyclist's T-shirt?", ATTRIBUTE, 't-shirt', ("cyclist's",), '', '', None),
    ('Is there a man?', PRESENCE, 'man', (), '', '', None),
    ('Did you see a bow tie?', PRESENCE, 'tie', ('bow',), '', '', None),
    ('Was anyone riding a bicycle?', PRESENCE, 'person', (), 'ride', '', None),
    ('When did the man first appear?', FIRST_SEEN, 'man', (), '', '', None),
    ('What colour is his shirt?', ATTRIBUTE, 'shirt', ('his',), '', '', None),
    ('Did anyone come in?', PRESENCE, 'person', (), 'come in', '', None),
    ('Did anybody leave?', PRESENCE, 'person', (), 'leave', '', None),
    ('Did someone come back?', PRESENCE, 'person', (), 'come back', '', None),
    ('When did the man come back?', WHEN, 'man', (), 'come back', '', None),
    ('When did he come back?', WHEN, 'person', (), 'come back', '', None),
    ('When did they leave?', LAST_SEEN, 'person', (), 'leave', '', None),
    ('When did she arrive?', FIRST_SEEN, 'person', (), 'arrive', '', None),
    ('When did it leave?', LAST_SEEN, '', (), 'leave', '', None),
    ('Did it move?', PRESENCE, '', (), 'move', '', None),
    ('Did the car park?', PRESENCE, 'car', (), 'park', '', None),
    ('Did you see a car park?', PRESENCE, 'park', ('car',), '', '', None),
    ('Did the red car pull out?', PRESENCE, 'car', ('red',), 'pull out', '', None),
    ('Did a man in a blue shirt walk past?', PRESENCE, 'man', ('in blue shirt',), 'walk past', '', None),
    ('Did a woman with a dog walk by?', PRESENCE, 'woman', ('with dog',), 'walk by', '', None),
    ('Did you see a man with a dog?', PRESENCE, 'man', ('with dog',), '', '', None),
    ('Did you see a person wearing glasses?', PRESENCE, 'person', ('wearing glasses',), '', '', None),
    ('Did you see someone in a yellow jacket?', PRESENCE, 'person', ('in yellow jacket',), '', '', None),
    ('Was there anybody in a red coat?', PRESENCE, 'person', ('in red coat',), '', '', None),
    ('Did someone put down a cup?', PRESENCE, 'person', (), 'put down', '', None),
    ('Did anyone pick up the ball?', PRESENCE, 'person', (), 'pick up', '', None),
    ('Did the woman pick up a bottle?', PRESENCE, 'woman', (), 'pick up', '', None),
    ('Did the man put the box down?', PRESENCE, 'man', (), 'put', '', None),
    ('Did somebody open the door?', PRESENCE, 'person', (), 'open', '', None),
    ('Did anyone sit down?', PRESENCE, 'person', (), 'sit down', '', None),
    ('Did a person cross the road?', PRESENCE, 'person', (), 'cross', '', None),
    ('Did anybody cross the street?', PRESENCE, 'person', (), 'cross', '', None),
    ('Has anyone entered the room?', PRESENCE, 'person', (), 'enter', '', None),
    ('Has anybody left the room?', PRESENCE, 'person', (), 'leave', '', None),
    ('Did anyone go out?', PRESENCE, 'person', (), 'go out', '', None),
    ('Did a car drive off?', PRESENCE, 'car', (), 'drive off', '', None),
    ('Did a truck drive past?', PRESENCE, 'truck', (), 'drive past', '', None),
    ('Did a cyclist ride by?', PRESENCE, 'cyclist', (), 'ride by', '', None),
    ('Did a dog run past?', PRESENCE, 'dog', (), 'run past', '', None),
    ('Did the man carry a box?', PRESENCE, 'man', (), 'carry', '', None),
    ('Did she wear glasses?', PRESENCE, 'person', ('wearing glasses',), '', '', None),
    ('Two white vans came down the road. When did the second one appear?', ORDINAL, 'van', ('white',), '', 'ordinal 2', None),
    ('A red car parked. When did it leave?', LAST_SEEN, 'car', ('red',), 'leave', '', None),
    ('Three people walked in. When did the third one leave?', ORDINAL, 'person', (), 'leave', 'ordinal 3', None),
    ('Did the cyclist wear a helmet?', PRESENCE, 'cyclist', ('wearing helmet',), '', '', None),
    ('Does the girl have a ball?', PRESENCE, 'girl', ('with ball',), '', '', None),
    ('How many people wore hats?', COUNT, 'person', ('wearing hats',), '', '', None),
    ('Was he wearing a hat?', PRESENCE, 'person', ('wearing hat',), '', '', None),
    ('Was the man carrying a bag?', PRESENCE, 'man', ('carrying bag',), '', '', None),
    ('Was someone holding a phone?', PRESENCE, 'person', ('holding phone',), '', '', None),
    ('Were there people carrying umbrellas?', PRESENCE, 'person', ('carrying umbrellas',), '', '', None),
    ('When did the first person arrive?', ORDINAL, 'person', (), 'arrive', 'ordinal 1', None),
    ('When did the last person leave?', ORDINAL, 'person', (), 'leave', 'ordinal -1', None),
    ('When did the second car arrive?', ORDINAL, 'car', (), 'arrive', 'ordinal 2', None),
    ('When did the fourth customer come in?', ORDINAL, 'customer', (), 'come in', 'ordinal 4', None),
    ('What colour was the first car?', ATTRIBUTE, 'car', (), '', 'ordinal 1', None),
    ("What colour was the second person's shirt?", ATTRIBUTE, 'shirt', ("person's",), '', 'ordinal 2', None),
    ('When did you see the second car?', ORDINAL, 'car', (), '', 'ordinal 2', None),
    ('When did you see the man the second time?', ORDINAL, 'man', (), '', 'ordinal 2', None),
    ('When did the truck appear the second time?', ORDINAL, 'truck', (), 'appear', 'ordinal 2', None),
    ('Where was the first person?', ORDINAL, 'person', (), '', 'ordinal 1', None),
    ('Where is this?', WHERE, '', (), '', '', None),
    ('Where was this filmed?', WHERE, '', (), '', '', None),
    ('Where are we?', WHERE, '', (), '', '', None),
    ('What kind of place is this?', WHERE, '', (), '', '', None),
    ('What room is this?', WHERE, '', (), '', '', None),
    ('Where was the camera?', WHERE, '', (), '', '', None),
    ('Where did it happen?', WHERE, '', (), '', '', None),
    ('How many people entered?', COUNT, 'person', (), 'enter', 'distinct', None),
    ('How many people left?', COUNT, 'person', (), 'leave', 'distinct', None),
    ('How many people walked past?', COUNT, 'person', (), 'walk past', 'distinct', None),
    ('How many different people did you see?', COUNT, 'person', (), '', 'distinct', None),
    ('How many cars drove by?', COUNT, 'car', (), 'drive by', 'distinct', None),
    ('How many vehicles passed in total?', COUNT, 'vehicle', (), 'pass', 'distinct', None),
    ('How many people came in altogether?', COUNT, 'person', (), 'come in', 'distinct', None),
    ('How many trucks went by?', COUNT, 'truck', (), 'go by', 'distinct', None),
    ('How many visitors came?', COUNT, 'visitor', (), 'come', 'distinct', None),
    ('How many customers entered the shop?', COUNT, 'customer', (), 'enter', 'distinct', None),
    ('How many cars were parked?', COUNT, 'car', (), '', '', None),
    ('How many people were there at once?', COUNT, 'person', (), '', '', None),
    ('What did the label say?', TEXT, 'label', (), '', '', None),
    ('What does the sign read?', TEXT, 'sign', (), '', '', None),
    ('What was written on the screen?', TEXT, 'screen', (), '', '', None),
    ('What text did you see?', TEXT, '', (), '', '', None),
    ('What words were on the sign?', TEXT, 'sign', (), '', '', None),
    ('Which words did you read?', TEXT, '', (), '', '', None),
    ('Did you see the word STOP?', TEXT, '', (), '', '', None),
    ('Did you read the word "EXIT"?', TEXT, '', (), '', '', None),
    ('Did the sign say OPEN?', TEXT, 'sign', (), '', '', None),
    ('What was the last word on the sign?', TEXT, 'sign', (), '', 'ordinal -1', None),
    ('What was the text on the board?', TEXT, 'board', (), '', '', None),
    ('Was "SALE" written on the sign?', TEXT, 'sign', (), '', '', None),
    ('Did the sign say the word LIVES?', TEXT, '', (), '', '', None),
    ('Had the sign shown the word MATTER yet?', TEXT, '', (), '', '', None),
    ('Did the letters spell the word PEACE?', TEXT, '', (), '', '', None),
    ('Was the word EXIT written anywhere?', TEXT, '', (), '', '', None),
    ('Did you see the BLACK LIVES MATTER sign?', TEXT, '', (), '', '', None),
    ('When did you first see the word MATTER?', FIRST_SEEN, '', (), '', '', None),
    ('When did you last see the word EXIT?', LAST_SEEN, '', (), '', '', None),
    ('When was the "OPEN" sign on?', WHEN, '', (), '', '', None),
    ('What did the screen show?', TEXT, 'screen', (), '', '', None),
    ('Read the sign.', TEXT, 'sign', (), '', '', None),
    ('What was the message on the screen?', TEXT, 'screen', (), '', '', None),
    ('Did you see any text?', TEXT, '', (), '', '', None),
    ('When did the woman leave?', LAST_SEEN, 'woman', (), 'leave', '', None),
    ('When did the man in the red jacket arrive?', FIRST_SEEN, 'man', ('in red jacket',), 'arrive', '', None),
    ('When did the person with the backpack enter?', FIRST_SEEN, 'person', ('with backpack',), 'enter', '', None),
    ('When did the car drive away?', LAST_SEEN, 'car', (), 'drive away', '', None),
    ('When did the children go out?', LAST_SEEN, 'child', (), 'go out', '', None),
    ('When did the bus depart?', LAST_SEEN, 'bus', (), 'depart', '', None),
    ('When did the people walk away?', LAST_SEEN, 'person', (), 'walk away', '', None),
    ('When did the cat walk in?', FIRST_SEEN, 'cat', (), 'walk in', '', None),
    ('When did the dog show up?', FIRST_SEEN, 'dog', (), 'show up', '', None),
    ('When did someone arrive?', FIRST_SEEN, 'person', (), 'arrive', '', None),
    ('When did anybody come in?', FIRST_SEEN, 'person', (), 'come in', '', None),
    ('When did somebody leave?', LAST_SEEN, 'person', (), 'leave', '', None),
    ('Who came in?', DESCRIBE, 'person', (), 'come in', '', None),
    ('Who left?', DESCRIBE, 'person', (), 'leave', '', None),
    ('Did you see anything?', PRESENCE, '', (), '', '', None),
    ('Did something fall?', PRESENCE, '', (), 'fall', '', None),
    ('Did anything happen?', PRESENCE, '', (), 'happen', '', None),
    ('Has anyone come back?', PRESENCE, 'person', (), 'come back', '', None),
    ('Did the dog come back?', PRESENCE, 'dog', (), 'come back', '', None),
    ('Did the man return?', PRESENCE, 'man', (), 'return', '', None),
    ('Was there anyone at the door?', PRESENCE, 'person', ('at door',), '', '', None),
    ('Did you see anybody near the car?', PRESENCE, 'person', ('near car',), '', '', None),
    ('Was there a white car?', PRESENCE, 'car', ('white',), '', '', None),
    ('Did you see a red car?', PRESENCE, 'car', ('red',), '', '', None),
    ('Did you see a small white dog?', PRESENCE, 'dog', ('small', 'white'), '', '', None),
    ('Was there a man in a hat?', PRESENCE, 'man', ('in hat',), '', '', None),
    ('Did you see a girl in a blue skirt?', PRESENCE, 'girl', ('in blue skirt',), '', '', None),
    ('Did you see a boy wearing a white T-shirt?', PRESENCE, 'boy', ('wearing white t-shirt',), '', '', None),
    ('Did you see people with umbrellas?', PRESENCE, 'person', ('with umbrellas',), '', '', None),
    ('Did you see any knives?', PRESENCE, 'knife', (), '', '', None),
    ('Did you see any buses?', PRESENCE, 'bus', (), '', '', None),
    ('Were there any mice?', PRESENCE, 'mouse', (), '', '', None),
    ('Did you see two men?', PRESENCE, 'man', ('two',), '', '', None),
    ('Were there any women?', PRESENCE, 'woman', (), '', '', None),
    ('Did a woman walk past?', PRESENCE, 'woman', (), 'walk past', '', None),
    ('Did a car stop?', PRESENCE, 'car', (), 'stop', '', None),
    ('Did the car turn left?', PRESENCE, 'car', (), 'turn', '', None),
    ('Did the truck reverse?', PRESENCE, 'truck', (), 'reverse', '', None),
    ('Did the light change?', PRESENCE, 'light', (), 'change', '', None),
    ('Did anyone wave?', PRESENCE, 'person', (), 'wave', '', None),
    ('When did the car stop?', WHEN, 'car', (), 'stop', '', None),
    ('When did the man sit down?', WHEN, 'man', (), 'sit down', '', None),
    ('When did the woman pick up the cup?', WHEN, 'woman', (), 'pick up', '', None),
    ('When did someone cross the road?', WHEN, 'person', (), 'cross', '', None),
    ('Did a car pass in the last 10 seconds?', PRESENCE, 'car', (), 'pass', '', TimeKind.LAST),
    ('How many people came in during the last minute?', COUNT, 'person', (), 'come in', 'distinct', TimeKind.LAST),
    ('Did anyone leave in the last 30 seconds?', PRESENCE, 'person', (), 'leave', '', TimeKind.LAST),
    ('Did someone walk past at the start?', PRESENCE, 'person', (), 'walk past', '', TimeKind.START),
    ('Was there a person at the end?', PRESENCE, 'person', (), '', '', TimeKind.NOW),
    ('How many cars drove by in the first 20 seconds?', COUNT, 'car', (), 'drive by', 'distinct', TimeKind.FIRST),
    ('When did the second visitor leave?', ORDINAL, 'visitor', (), 'leave', 'ordinal 2', None),
    ('What did the sign say at the end?', TEXT, 'sign', (), '', '', TimeKind.NOW),
    # a compound's plural head that is also a verb's -s form is the noun: after "did" a verb is bare, and
    # the plural of a noun-first word is that noun (the tuning half's traffic lights)
    ('Were there any traffic lights?', PRESENCE, 'light', ('traffic',), '', '', None),
    ('Were there any bus stops?', PRESENCE, 'stop', ('bus',), '', '', None),
    ('Did you see the street lights?', PRESENCE, 'light', ('street',), '', '', None),
    ('When did the traffic lights change?', WHEN, 'light', ('traffic',), 'change', '', None),
    ('Did the bus stop?', PRESENCE, 'bus', (), 'stop', '', None),
    ('Have the lights changed?', PRESENCE, 'light', (), 'change', '', None),
    # the nth line of a text, not its nth word (the tuning half's sign)
    ('What was written on the second line of the sign?', TEXT, 'line', ('of sign',), '', 'ordinal 2', None),
    ('What was the last line on the screen?', TEXT, 'screen', (), '', 'ordinal -1', None),
    # letters spell words: the text read, not what was seen (the tuning half's sign)
    ('What did the letters on the sign spell?', TEXT, 'letter', ('on sign',), '', '', None),
    ('What did the tiles spell at the end?', TEXT, 'tile', (), '', '', TimeKind.NOW),
    ('What colour was the car in the left lane at about 24 s?', ATTRIBUTE, 'car', ('in left lane',), '', '', TimeKind.AT),
    ('Was there a person at around 3 seconds?', PRESENCE, 'person', (), '', '', TimeKind.AT),
    # the viewer's own doing: the thing done to is the subject, the predicate the viewer's
    ('Did we drive under a bridge?', PRESENCE, 'bridge', (), 'drive under', '', None),
    ('Did we pass a bus?', PRESENCE, 'bus', (), '', '', None),
    ('Did the camera go past a parked bicycle?', PRESENCE, 'bicycle', ('parked',), '', '', None),
    ('Did we overtake a white van?', PRESENCE, 'van', ('white',), 'overtake', '', None),
    ('Did you stop at the traffic light?', PRESENCE, 'light', ('traffic',), 'stop at', '', None),
    ('Did the robot hit anything?', DESCRIBE, '', (), 'hit', '', None),
    ('Did we follow the man in the red jacket?', PRESENCE, 'man', ('in red jacket',), 'follow', '', None),
    ('Did you drive into the car park in the last minute?', PRESENCE, 'park', ('car',), 'drive into', '', TimeKind.LAST),
    ('Have we met anyone?', PRESENCE, 'person', (), '', '', None),
    ('Did I leave my keys on the table?', PRESENCE, 'key', ('on table',), 'leave', '', None),
    ('Is the camera moving?', DESCRIBE, '', (), 'move', '', None),
    ('Were we late?', DESCRIBE, '', (), '', '', None),
    # "still" asks about the newest frame; "gone" is left; an adverb is no part of the thing
    ('Is the person still there?', PRESENCE, 'person', (), '', '', TimeKind.NOW),
    ('Are there still people on the walkway?', PRESENCE, 'person', ('on walkway',), '', '', TimeKind.NOW),
    ('Did the man stand still?', PRESENCE, 'man', (), 'stand', '', None),
    ('Has the delivery van gone?', PRESENCE, 'van', ('delivery',), 'leave', '', None),
    ('Has the van gone by?', PRESENCE, 'van', (), 'go by', '', None),
    ('Is anyone here?', PRESENCE, 'person', (), '', '', None),
    ('Have you seen my keys?', PRESENCE, 'key', (), '', '', None),
    ('Did someone leave a bag behind?', PRESENCE, 'person', (), 'leave behind', '', None),
    ('Did the man leave the room?', PRESENCE, 'man', (), 'leave', '', None),
    # a relative clause is a modifier of the subject, not its predicate
    ('When did the third truck that overtook the bus appear?', ORDINAL, 'truck', ('overtook bus',), '', 'ordinal 3', None),
    ('How many cars that turned left did you see?', COUNT, 'car', ('turned left',), '', '', None),
]


@pytest.mark.parametrize("text, intent, head, modifiers, predicate, kind, time", TABLE, ids=[t[0] for t in TABLE])
def test_operator_phrasings(text, intent, head, modifiers, predicate, kind, time):
    q = parse(text)
    assert q.intent is intent, q
    assert q.head == head, q
    assert q.modifiers == modifiers, q
    assert q.predicate == predicate, q
    assert (f"ordinal {q.ordinal}" if q.ordinal else "distinct" if q.distinct else "") == kind, q
    assert (q.time.kind if q.time else None) is time, q


def test_the_table_is_wide():
    assert len(TABLE) >= 200 and len({t[0] for t in TABLE}) == len(TABLE)


@pytest.mark.parametrize("text", [t[0] for t in TABLE])
def test_pronouns_and_indefinites_never_become_things(text):
    q = parse(text)
    assert not q.subject.lower().endswith((" here", " there", " anywhere", " still", " yet")), q
    words = q.subject.lower().split()
    assert not {"someone", "somebody", "anybody", "anyone", "something", "anything", "this"} & set(words), q
    assert q.head not in ("someone", "anybody", "it", "this", "she", "he", "they"), q


@pytest.mark.parametrize("many, singular", [("buses", "bus"), ("knives", "knife"), ("mice", "mouse"),
                                              ("people", "person"), ("children", "child"), ("boxes", "box"),
                                              ("men", "man"), ("women", "woman"), ("glasses", "glasses"),
                                              ("jeans", "jeans"), ("benches", "bench"), ("taxis", "taxi")])
def test_singulars_come_from_the_lexicon(many, singular):
    assert noun_lemma(many) == singular


@pytest.mark.parametrize("name, said", [("bus", "buses"), ("knife", "knives"), ("person", "people"),
                                        ("sports ball", "sports balls"), ("wine glass", "wine glasses"),
                                        ("mouse", "mice"), ("car", "cars")])
def test_plurals_come_from_the_lexicon(name, said):
    assert plural(name) == said


# the asked phrase as the answer says it: its article follows the head noun, not the phrase's last word
@pytest.mark.parametrize("phrase, said", [
    ("bus", "a bus"), ("giraffe", "a giraffe"), ("apple", "an apple"), ("benches", "benches"),
    ("children", "children"), ("glasses", "glasses"), ("cars on the street", "cars on the street"),
    ("words on the sign", "words on the sign"), ("person wearing glasses", "a person wearing glasses"),
    ("man in a red jacket", "a man in a red jacket"), ("anyone's face", "anyone's face"),
    ("woman's face", "a woman's face"), ("his shirt", "his shirt"), ("a car", "a car")])
def test_the_article_follows_the_head_noun(phrase, said):
    assert a_phrase(phrase) == said


@pytest.mark.parametrize("complement, said", [("hall", "the hall"), ("from mug", "from the mug"),
                                              ("something", "something"), ("out", "out"),
                                              ("into car", "into the car"), ("in red shirts", "in red shirts"),
                                              ("wearing hats", "wearing hats"), ("us", "us"), ("them", "them")])
def test_what_a_predicate_acts_on_is_worded_after_it(complement, said):
    assert the_complement(complement) == said


def test_the_issue_examples_read_subject_apart_from_predicate():
    q = parse("Did you see someone carrying a box?")
    assert q.subject == "person carrying a box" and q.pronoun == "someone" and q.modifiers == ("carrying box",)
    q = parse("Has anybody crossed the hall?")
    assert (q.subject, q.predicate, q.complement, q.action) == ("person", "cross", "hall", "action")
    q = parse("Did a man in a red jacket come by?")
    assert (q.subject, q.predicate, q.action) == ("man in a red jacket", "come by", "seen")
    q = parse("Did she wear glasses?")          # what she wore describes her: not "was a person seen"
    assert (q.subject, q.pronoun, q.predicate, q.action) == ("person wearing glasses", "she", "", "")
    q = parse("Was he on the bed?")               # a person, never "a he on the bed"
    assert q.subject == "person on the bed" and q.pronoun == "he"
    q = parse("The sign's light changed twice. When did it change the second time?")   # a sentence that sets it up
    assert (q.intent, q.subject, q.ordinal, q.predicate) == (Intent.ORDINAL, "sign's light", 2, "change")
    q = parse("when did she leave?")
    assert (q.intent, q.head, q.pronoun, q.action) == (Intent.LAST_SEEN, "person", "she", "leave")
    q = parse("Where was this?")
    assert q.intent is Intent.WHERE and q.attribute == "place" and q.subject == ""
    q = parse("When did the third visitor arrive?")
    assert q.intent is Intent.ORDINAL and q.ordinal == 3 and q.asks is Intent.FIRST_SEEN
    q = parse("How many people came in?")
    assert q.intent is Intent.COUNT and q.distinct and q.action == "arrive"
    assert not parse("How many people were on camera at once at 2 s?").distinct


def test_text_questions_keep_the_word_as_written():
    q = parse("Did you see the word EXIT?")
    assert q.intent is Intent.TEXT and q.value == "EXIT" and q.yes_no
    q = parse('Did the sign say "Open"?')
    assert q.intent is Intent.TEXT and q.value == "Open" and q.subject == "sign"


@pytest.mark.parametrize("text, intent, value, yes_no", [
    ("Did the sign say the word LIVES?", TEXT, "LIVES", True),
    ("Had the sign shown the word MATTER yet?", TEXT, "MATTER", True),
    ('Was the word "exit" written on the door?', TEXT, "exit", True),
    ("Did you see the STOP sign?", TEXT, "STOP", True),
    ("When did you first see the word MATTER?", FIRST_SEEN, "MATTER", False),
    ("When did the OPEN sign come on?", FIRST_SEEN, "OPEN", False),
    ("When was the PEDESTRIAN ALARM label on screen?", WHEN, "PEDESTRIAN ALARM", False),
    ("When did you last see the words BLACK LIVES?", LAST_SEEN, "BLACK LIVES", False),
])
def test_words_a_question_names_are_text_to_look_for_not_a_thing(text, intent, value, yes_no):
    # "word MATTER" or "PEDESTRIAN ALARM label" is no thing to recognise: the words are looked for in what was read
    q = parse(text)
    assert (q.intent, q.value, q.yes_no, q.subject) == (intent, value, yes_no, ""), q
    assert (q.attribute == "text") is (intent is not TEXT)
    for plain in ("DID YOU SEE THE STOP SIGN?", "Did you see a TV?", "What colour was the T block?",
                  "What did the EXIT sign say?", "Did you see the TV screen?", "Was there an LED sign?"):        # capitals that name no word, or a question that is no when / yes-no
        assert parse(plain).attribute != "text" and not (parse(plain).value and parse(plain).yes_no), plain


@pytest.mark.parametrize("text", ["Which way did the two young men walk?", "In which direction did the cars drive?",
                                  "What direction was the cyclist heading?"])
def test_which_way_asks_for_the_direction_of_the_subject(text):
    q = parse(text)
    assert q.attribute == "direction" and q.subject and "way" not in q.subject and "direction" not in q.subject
    choice = parse(text + " (A) from left to right (B) from right to left")
    assert choice.intent is Intent.CHOICE and choice.attribute == "direction" and choice.subject.endswith(q.subject)
    assert parse("What colour was the car?").attribute == "colour"


@pytest.mark.parametrize("text, unit", [("What was written on the second line of the sign?", "line"),
                                        ("What was the last line on the screen?", "line"),
                                        ("What was the first word on the sign?", "word"),
                                        ("What did the sign say?", "")])
def test_a_text_ordinal_says_whether_it_counts_lines_or_words(text, unit):
    assert parse(text).attribute == unit
