"""Training corpus for the 8-way text emotion classifier (softmax regression over sentence embeddings).

`build_corpus` makes (text, emotion) pairs: short lines that one character says to another in a
conversation, each carrying one clear dominant emotion from `eai_avatar.vocabulary.EMOTIONS`. Every line is
either one of the hand-written standalone lines of an emotion's bank or one expansion of the bank's sentence
templates, whose `{slot}` placeholders are filled from word lists (topics, objects, people, places, times);
a placeholder written `{Slot}` takes the filler with its first letter capitalised. Lines are unique (compared
by their lower-cased words, across all emotions), 4 to 25 words long, and the same (per_emotion, seed) gives
the same list in every run and process.

Provenance: every phrase bank, template and word list in this module was written by hand for this project
and is released with it under the Apache-2.0 licence. No third-party data set, lexicon or corpus was copied
or consulted.
"""

from __future__ import annotations

import itertools
import random
import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

from eai_avatar.vocabulary import EMOTIONS

__all__ = ["MAX_WORDS", "MIN_WORDS", "build_corpus", "corpus_capacity"]

#: Word-count bounds (whitespace-separated tokens) of every generated line.
MIN_WORDS = 4
MAX_WORDS = 25

# ---------------------------------------------------------------------------------------------------------
# Bank text formats. Templates and standalone lines: one per line. Slots: a line `name:` opens a slot, the
# lines after it hold its fillers separated by `|`. Emotion slots extend (or override) the shared ones.
# ---------------------------------------------------------------------------------------------------------

_SHARED_SLOTS = """
name:
    Sam | Maya | Leo | Nora | Jack | Priya | Omar | Lena | Tom | Zoe | Ben | Aisha | Marco | Hana | Eli
    Rosa | Kai | Grace | Felix | Ivy | Noah | Mia | Luca | Jade | Dev | Chloe
person:
    my sister | your brother | the coach | our neighbour | my boss | the landlord | your cousin
    the new guy at work | my dad | your mum | the teacher | our manager | my best friend | the kid next door
    my flatmate | my grandmother | the delivery driver | the team captain | my uncle | your friend Alex
event:
    the interview | the match | the party | the exam | the trip | the wedding | the meeting | the concert
    the tournament | the presentation | the dinner | the move | the product launch | the school play
    the piano recital | the race | the audition | the game night | the barbecue | the camping trip
    the job fair | the driving test
past:
    yesterday | last night | this morning | on Friday | last week | at lunch | over the weekend
    an hour ago | earlier today | on Monday
future:
    tomorrow | tonight | next week | on Saturday | this weekend | in the morning | after lunch
    on Thursday | next month | later today
place:
    the office | the station | the beach | the gym | the supermarket | the airport | the park | the library
    the stadium | the café | the shopping centre | the hospital | the school gate | the cinema | the bus stop
    the market | the hotel lobby | the car park
thing:
    my phone | the car | my laptop | my headphones | the TV | my bike | the controller | my charger
    the printer | my favourite mug | the remote | my camera | my jacket | the game console | my notebook
    the lawnmower
city:
    Lisbon | Toronto | Glasgow | Madrid | Tokyo | Boston | Leeds | Berlin | Sydney | Dublin | Nairobi | Seoul
clock:
    nine | ten thirty | half past two | six o'clock | noon | a quarter to eight | seven fifteen | eleven
    four thirty | eight sharp
"""

# ----------------------------------------------------------------------------------------------- angry
_ANGRY_TEMPLATES = """
You {wrong} and you didn't even say sorry!
I can't believe you {wrong}. I'm {mad}!
{Name}, you {wrong}? I am {mad} right now.
Why would you {wrong_base}? What is wrong with you?
How many times do I have to tell you not to {wrong_base}?
Don't you ever {wrong_base} again, do you hear me?
{Name}, I've told you a hundred times not to {wrong_base}!
If you {wrong_base} one more time, I swear I'm done with you.
{Person} {wrong} and expects me to just let it go. No way.
{Person} {wrong} {past}, and I'm {mad}.
Who {tamper} {thing}? Own up right now!
Somebody {tamper} {thing}, and I want to know who it was.
Don't tell me to calm down! You {wrong}!
{Opener} You {wrong} again!
{Demand}, {name}! I mean it!
{Demand}! I'm not asking you twice.
I'm {mad}. {Demand}.
You promised you'd help with {event} and then you just bailed on me!
This is the third time you've been late for {event}. I'm {mad}.
Who keeps leaving {annoyance}? I'm sick of it!
Stop {annoying}! It's driving me up the wall!
I've had it up to here with {grievance}!
I swear, one more minute of {grievance} and I'm going to lose it.
I'm sick and tired of {grievance}, {name}!
{Grievance} makes my blood boil.
They charged me twice for {purchase}, and nobody will give me a refund!
I waited {wait} at {place} and {person} never showed up!
Get your hands off {thing} right now!
Who said you could use {thing}? Put it back!
You broke {thing} and then lied about it? I'm {mad}!
How dare {person} talk to me like that in front of everyone!
How dare you {wrong_base} after everything I've done for you!
You think you can just {wrong_base} and I won't notice? Think again!
Stop making excuses! You {wrong}, so own it!
That's the last straw, {name}. You {wrong}!
You owe me an apology for {offense}, and you know it.
After {offense}, you've got some nerve showing up here.
I'm still {mad} about {offense}.
Don't act like nothing happened! I haven't forgotten {offense}.
Stop blaming me for {problem}! That was your fault!
It's your fault we {outcome}, and you know it!
Because of you, we {outcome}! Thanks for nothing!
I told you to {instruction} and you completely ignored me!
Is it too much to ask for you to {instruction} just once?
Every single time I ask you to {instruction}, you forget! I'm {mad}!
Answer me, {name}! Why did you {wrong_base}?
Are you kidding me? {Person} {wrong}!
This {junk} has crashed five times today. I'm ready to throw it out the window!
I paid good money for this {junk} and it doesn't even work!
I'm going to give {person} a piece of my mind. They {wrong}!
Hey! {Demand}!
Who do you think you are? You {wrong}!
I'm {mad} that you {wrong}, {name}.
{Opener} {Person} {wrong} and didn't even apologise!
"""

_ANGRY_LINES = """
Don't you dare walk away from me while I'm talking!
I'm so angry I can't even look at you right now.
That referee is blind! That was never a foul!
You had one job! One job, and you messed it up!
Get out. I don't want to hear another word from you.
Stop lying! I saw you take it with my own eyes!
How dare you go through my phone!
The airline lost my luggage again and nobody will even answer the phone!
Who ate my leftovers? I labelled them with my name!
I've been on hold for an hour and they just hung up on me!
If that dog barks one more time tonight, I'm calling the council.
You went behind my back and told the boss? Unbelievable.
Don't you speak to my mother like that ever again!
I did all the work and you took all the credit. I'm done covering for you.
This is the last time I lend you money, do you understand me?
Keep your stupid opinions to yourself!
You knew how much that meant to me and you ruined it anyway!
Stop slamming doors! You're not the only one who lives here!
I asked you a simple question. Why won't you answer me?
Enough! I'm sick of being treated like a doormat!
You cheated, and everybody at the table saw it!
That driver just cut me off and then had the nerve to honk at me!
The builders woke me up at six again. I'm going to lose my mind.
Get off my back! I'm doing the best I can!
Don't walk away from me, we're not finished!
You lied to me for months. Months!
I can't believe they fired her for something the manager did!
What kind of idiot parks across two spaces?
I told you I'd handle it! Why do you always have to interfere?
My landlord kept my whole deposit for a tiny scratch! That's robbery!
Give me back my phone, right now!
Stop shouting at me! I'm standing right here!
They gave my job to his nephew. I'm absolutely furious.
You promised you'd be there, and you didn't even bother to call!
This stupid machine ate my card again!
Don't you roll your eyes at me!
Get your feet off my table this instant!
You've got some nerve asking me for a favour after what you did.
Somebody keyed my car in the car park last night, and I'm livid.
That's my seat! Move it, now!
Quit messing around and give me a straight answer!
I've had enough of your excuses. Pay me what you owe me.
You scratched my new car and just drove off? I'll find you!
Why is it always me who has to clean up your mess?
The shop refused to take back a broken toaster. Absolutely outrageous!
They cancelled my flight two hours before take-off and offered me nothing!
I'm warning you, back off right now!
If you touch my stuff again, you'll regret it.
Don't interrupt me again! Let me finish!
Turn that music down! Some of us are trying to sleep!
My brother broke my console and my parents took his side. It's so unfair!
Stop treating me like an idiot and tell me what really happened!
"""

_ANGRY_SLOTS = """
mad:
    angry | furious | livid | so mad | really angry | absolutely furious | fuming | beyond furious
    so angry | seriously annoyed | really irritated | pretty annoyed
wrong:
    broke my phone | read my messages | lied to my face | took credit for my work | ate my lunch
    told everyone my secret | left me waiting for two hours | cancelled on me | scratched my car
    lost my keys | skipped the chores | forgot to pay the rent | ruined the surprise | cheated in the game
    deleted my save file | borrowed my jacket without asking | left the dishes for me
    blamed me for the mistake
    went through my bag | spent the holiday money | sold my bike | gave away my ticket
    ignored my calls all week | talked over me in the meeting | locked me out of the house | crashed my car
    stood me up | shouted at my kids | dented the car and drove off
wrong_base:
    touch my things | read my diary | lie to me | take my seat | change the password | leave the door unlocked
    park in my spot | borrow my car without asking | invite him without telling me | cancel at the last minute
    skip practice | tell Mum about that | sell my old guitar | eat the last slice | throw out my notes
    turn off my game | play music at three in the morning | ignore every message I send
    drag me into this mess | spend all the money | go behind my back | take my charger | open my post
    talk to me like that
tamper:
    broke | took | scratched | moved | borrowed | used | dropped | messed with | ruined | hid
opener:
    For crying out loud! | That's it! | Enough! | Oh, for heaven's sake! | I've had it! | Damn it!
    Give me a break! | Oh, come on!
demand:
    give it back right now | get out of my room | stop touching my stuff | don't ever do that again
    stop interrupting me | pay me back today | apologise right now | fix it yourself | leave me alone
    stop lying to me | turn that music down | explain yourself | get out of my house
    don't you dare touch that | stop wasting my time | keep your hands to yourself | put that down now
annoyance:
    the lights on | the front door unlocked | dirty dishes in the sink | the car with no fuel
    wet towels on the floor | the tap running | muddy shoes in the hallway | the fridge door open
    empty milk cartons in the fridge | the heating on full blast | the gate open | the toilet seat up
annoying:
    tapping your pen | kicking my chair | humming that song | checking your phone while I'm talking
    interrupting me | slamming the door | changing the channel | texting during dinner
    blaming everyone else | making excuses | honking the horn | shouting down the phone | taking my stuff
    leaving me on read | rewriting my code | moving my things
grievance:
    your attitude | this stupid printer | the racket next door | this traffic | the slow internet
    your constant lying | this useless app | your constant complaining | the neighbour's dog barking all night
    the landlord ignoring my emails | the airline losing my bag | your lateness | this ridiculous queue
    the way you talk to me | all this shouting | the mess you leave everywhere
    being treated like a servant | the constant drilling outside
purchase:
    the concert tickets | the same pizza | my phone bill | the flights | the hotel room | the gym membership
    the car repair | the train tickets | one coffee | the parking | the delivery
wait:
    two hours | forty minutes | all afternoon | an hour in the rain | the whole morning | ages
offense:
    what you said at the party | how you ruined my birthday | the lie you told my boss
    the way you embarrassed me in front of my friends | that comment about my mum
    the night you left me stranded at the station | your broken promise | the way you wrecked my car
    the texts you read behind my back | the stunt you pulled at my graduation | that remark about my salary
problem:
    the broken window | the missed train | losing the match | the mess in the kitchen | the late rent
    the crash | the bad grade | the lost passport | the flat tyre | the overdraft fee | the burnt dinner
    the parking ticket
outcome:
    missed the flight | lost the game | got kicked out | got fined | are late again | lost the deposit
    missed the deadline | failed the group project | got lost | ran out of money
    missed the start of the film
    lost the booking
instruction:
    lock the door | call me back | feed the dog | book the tickets | save your work | check the oil
    pay the bill | tell the teacher | pick me up at six | bring the charger | take the bins out
    text me when you land | clean up after yourself
junk:
    stupid laptop | useless app | printer | game | phone | website | router | ancient computer | banking app
"""

# -------------------------------------------------------------------------------------------- contempt
_CONTEMPT_TEMPLATES = """
Did you figure out how to {trivial} all by yourself? I'm so proud.
It took you three tries to {trivial}? Adorable.
Oh, bless your heart. You still can't {trivial}, can you?
You call that {noun}? My little cousin could do better.
Is that what passes for {noun} these days? How quaint.
How quaint. You actually think {liked} is impressive.
{Liked}? Please. That's for people with no taste.
Only someone like you would be proud of {liked}.
Let me explain {topic_complex} slowly so even you can follow, {name}.
I'd explain {topic_complex}, but I doubt you'd understand it.
Don't strain yourself trying to understand {topic_complex}, sweetie.
{People} really think they're experts, don't they? How cute.
Honestly, {people} are beneath my attention.
I don't waste my time on {people}.
Oh, you got {small_win}? Should we throw you a parade?
Congratulations on {small_win}. Truly the peak of your career.
{Small_win}? Try not to let it go to your head, {name}.
Your {outfit} is almost as embarrassing as your {habits}.
Nice {outfit}, {name}. Did you get dressed in the dark?
Did your grandmother pick out that {outfit} for you?
Is that {outfit} supposed to be fashionable? How embarrassing for you.
Oh look, {name} has an opinion about {topic_any}. How precious.
Nobody asked for your opinion on {topic_any}, {name}.
You? Lecturing me about {topic_any}? Don't make me laugh.
Your opinion on {topic_any} is worth about as much as a paper umbrella.
I'd ask your advice on {topic_any}, but I actually want it to go well.
Keep telling yourself you're good at {activity}, sweetie.
You, good at {activity}? That's the funniest thing I've heard all week.
Amateurs. I could beat the lot of you at {activity} with my eyes closed.
Oh, you read one article about {topic_any} and now you're an expert?
You actually think {belief}? That's adorable.
Of course you {lowly}. Why am I not surprised?
You {lowly}? Typical. Just typical.
Only you could {lowly_base} and still act proud of it.
That's rich coming from you, {name}. You {lowly}.
I wouldn't trust {person} to {trivial}, let alone run {run_thing}.
I'm sorry, were you under the impression I care about your {their_thing}?
Your little {their_thing} is cute, but the adults are talking now.
Go on, tell me more about your {their_thing}. I'm absolutely riveted.
You think {event} was hard? Try a real challenge sometime.
I've seen better {noun_pl} from a five-year-old.
Those are the most pathetic {noun_pl} I've ever seen.
Pathetic. Even {comp} could do better than that.
Is that really the best you can do? {Comp} could manage that.
Don't flatter yourself, {name}. Nobody is impressed by your {their_thing}.
Your taste in {domain} is exactly as cheap as I expected.
You actually like {low_taste}? That explains a lot about you.
Spare me your {their_thing}. Some of us have real work to do.
Bless you for trying, {name}. It's almost sweet how hopeless you are.
People who like {low_taste} shouldn't be giving anyone advice.
I'm not even going to dignify your {their_thing} with a response.
Why would I listen to you? You can't even {trivial}.
Whatever you say, {name}. I'll let the grown-ups handle {topic_complex}.
Oh, {name}, you sweet summer child. You really think {belief}?
"""

_CONTEMPT_LINES = """
Oh please. You wouldn't last a day in my job.
Sure you did. And I'm the Queen of England.
It must be nice to be so confident and so wrong at the same time.
You're comparing yourself to me? That's hilarious.
I don't argue with people who are beneath me.
Another brilliant idea from the office genius. How original.
How cute. The new guy thinks he can tell me what to do.
Please. I've forgotten more about this than you'll ever know.
Don't make me laugh. You, running a company?
Oh, sweetie, that's not how any of this works.
Is this your first time using your brain? It shows.
Try to keep up. This really isn't rocket science.
You call that a workout? I warm up harder than that.
I'd say I'm impressed, but I have standards.
Run along now. The grown-ups are busy.
You're not even worth arguing with.
Your whole family thinks they're so special. They're really not.
Imagine being that proud of a second-hand hatchback.
Cute little speech. Did you practise it in the mirror?
That's adorable. You think anyone reads your blog.
Honestly, I expected nothing from you, and you still managed to underdeliver.
Oh, look who finally decided to show up. Our little superstar.
Let me guess, you think you're the smartest person in the room.
Nobody cares about your fantasy league, mate.
You wouldn't know good wine if it bit you.
I've met houseplants with more ambition than you.
He calls himself a chef because he can microwave a burrito.
She thinks wearing glasses makes her an intellectual. Please.
Oh, you went to one weekend workshop? Look at you, Mr Expert.
Is that supposed to be an insult? How precious.
Did you come up with that all by yourself? Impressive.
You really are as dim as everyone says.
Your little band plays to twelve people and acts like they're famous.
What a charming little car. Does it come with pedals?
I wouldn't be caught dead in a place like this.
I wouldn't be caught dead wearing something that cheap.
They let just anybody into this club now, don't they?
Honestly, that whole team is a bunch of clueless amateurs.
You need a calculator to split a bill? Of course you do.
Go ahead, explain it again. Slower, so you understand it yourself.
Of course you think that's clever. You think everything is clever.
Oh, how very brave of you to finally speak up in a meeting.
I've seen toddlers handle losing with more dignity than you.
That's cute. You think your opinion matters here.
Please, your so-called mansion is a glorified shed.
You're a walking cautionary tale, you know that?
If I wanted advice from a loser, I'd ask you.
Whatever. I don't need approval from people like you.
Mm-hmm. Tell me again how you're going to be a millionaire.
Your idea of fine dining is a drive-through. Spare me the food review.
The best thing about your party was leaving it.
Keep talking. It's fascinating how little you know.
"""

_CONTEMPT_SLOTS = """
trivial:
    tie your own shoes | boil an egg | send an email | park a car | count to ten | read a map | make toast
    spell your own name | find the light switch | open a jar | follow a recipe | use a microwave
    reply to a text | turn on a computer | fold a towel | catch a bus | order a pizza
noun:
    cooking | a plan | a goal | singing | a joke | a haircut | a business | a party | a car | parking
    a presentation | an apology | dancing | a holiday | art | a garden | a workout | an essay | a house
    a bonus
noun_pl:
    drawings | excuses | arguments | jokes | plans | essays | passes | speeches | apologies | manners
    business ideas | dance moves | photos | spreadsheets | meals
liked:
    that band | your little blog | that cheap car | those knock-off trainers | your fantasy football team
    that plastic trophy | your so-called business plan | your tiny apartment | that budget airline
    your poetry | your little side project | that tacky jacket | your garage band | that reality show
    your podcast | your gaming chair | your little startup | your award from the bowling club
    that supermarket wine | your certificate from that online course
people:
    people like you | amateurs like him | your little friends | your whole team | that crowd | your cousins
    the interns | those tourists | the rookies | your book club | your so-called experts | the other parents
    those influencers | the new hires
topic_complex:
    the rules | the plan | the budget | the joke | the tax form | how investing works | the strategy
    the offside rule | how the internet works | the contract | this game | the menu | the wine list
    basic maths | the instructions | the map
topic_any:
    politics | wine | fashion | football | cooking | money | music | parenting | business | art | cars
    my career | films | literature | fitness | my life
activity:
    chess | football | cooking | singing | coding | driving | poker | dancing | painting | this game
    public speaking | negotiating | tennis | investing | photography | golf | karaoke | trivia
small_win:
    a participation medal | a B minus | a two percent raise | third place out of three | a free coffee
    a hundred followers | your learner's permit | an honourable mention | a certificate for showing up
    a gold star | a thumbs-up from the manager | a trophy from the pub quiz
outfit:
    shirt | shoes | haircut | jacket | tie | hat | sunglasses | handbag | coat | trainers | scarf | suit
    hoodie | dress
habits:
    taste in music | cooking | jokes | sense of style | profile picture | handwriting | car | apartment
    dance moves | wedding playlist | manners | little poems
belief:
    you can beat me | that counts as a real job | you're going to be famous | you have good taste
    anybody cares | that was clever | the boss likes you | you're in charge here | your opinion matters
    you could do my job | you're the smart one | that outfit works
lowly:
    got lost in the car park | forgot your own password | burned the pasta | bought the fake one
    fell for that scam | came last again | missed the easiest shot | needed help with the microwave
    failed the driving test again | locked yourself out again | got beaten by a ten-year-old
    tripped over your own feet | bought that ugly car | tried to pay with an expired coupon
lowly_base:
    get lost in a car park | burn a salad | fail an open-book test | lose at tic-tac-toe | break a spoon
    miss an open goal | forget your own birthday | fall for the oldest scam in the book
    get beaten by a toddler at chess | trip over a flat floor | lose money on a sure thing
    fail at making toast
run_thing:
    this place | the team | the project | a business | the meeting | a bake sale | the budget
comp:
    my dog | a toddler | my grandmother | a broken calculator | a goldfish | the intern | my little brother
    a sleepy cat | a five-year-old | a parrot | a brick
their_thing:
    speech | plan | theory | rant | project | idea | story | tantrum | podcast | business pitch | opinion
    life advice | poem | lecture
domain:
    music | films | wine | clothes | furniture | friends | restaurants | books | cars | holidays | coffee
    art | boyfriends | TV
low_taste:
    that boy band | instant noodles for every meal | those reality shows | supermarket wine | airport novels
    that cheesy sitcom | karaoke remixes | neon sneakers | those clickbait videos | that chain restaurant
    plastic flowers | motivational quote posters | fake leather sofas
"""

# ------------------------------------------------------------------------------------------- disgusted
_DISGUSTED_TEMPLATES = """
{Ew}, there's {gross} {gross_place}!
{Ew}! Is that {gross} {gross_place}?
There's {gross} {gross_place} and {reaction}.
I found {gross} {gross_place}. {Reaction}.
What is that smell? It smells like {smell_like} in here.
{Smell_src} smells like {smell_like}. {Reaction}.
Did you open {open_src}? The whole house smells like {smell_like}.
Please tell me that's not {gross} {gross_place}.
Don't eat that! It's covered in {cover}.
{Ew}, the {food} is covered in {cover}.
This {food} has gone off. {Reaction}.
Who leaves {left} {left_place}? That's so gross.
{Name}, did you just {gross_act}? That's revolting.
Please stop {gross_ing}. It's making me feel sick.
Watching you {gross_act} made me lose my appetite.
The toilets at {venue} were absolutely filthy. I nearly threw up.
The {room} at {lodging} was crawling with {bugs}.
There were {bugs} all over {surface}. Disgusting!
I stepped in something {squish} and it went right through my sock.
{Ew}, my hand is covered in something {squish}. What is it?
The {food} tasted like {bad_taste}. I spat it straight out.
{Person} {moral}. {moral_react}
Did you hear that {person} {moral}? {moral_react}
Anyone who {moral_pres} is a disgusting human being.
I can't believe someone would {moral_base}. It turns my stomach.
It makes me sick that {person} would {moral_base}.
The way {person} {gross_habit} makes me want to gag.
{Person} {gross_habit}. Absolutely gross.
Have you seen the state of {mess_place}? It's a health hazard.
{Mess_place} is so filthy I don't want to touch anything.
{Ew}, I touched the {gross_object} and it was all {squish}.
Don't put that in your mouth! It's been {contaminate}!
That {food} has been {contaminate}. Throw it away, it's disgusting.
That photo of {gross_pic} is the grossest thing I've ever seen.
Get that {gross_thing} away from me, it's disgusting!
Why would you bring a {gross_thing} into the kitchen? Gross!
{Ew}. {Reaction}.
I opened {open_src} and nearly passed out. It smells like {smell_like}.
Wash your hands, {name}! You just {dirty_touch}.
There's {gross} floating in {liquid}. I'm not drinking that.
The hotel room had {hotel_gross}. Absolutely revolting.
I can smell {smelly} from across the room. It's revolting.
{Ew}, this {food} is all slimy and it smells off.
Someone {bathroom_crime} and didn't clean it up. That's disgusting.
How can you eat {weird_food}? That's so gross.
{Person} {moral}? That's so low it makes me feel sick.
The sight of all that {slimy_mass} makes me want to vomit.
{Ew}, {name}! You just {dirty_touch} and now you're touching the food?
"""

_DISGUSTED_LINES = """
Ugh, this milk has gone sour. Smell it.
I bit into the apple and there was half a worm inside.
Who left a used tissue on the kitchen table? Gross.
The bathroom at that petrol station was a biohazard.
There's mould growing on the ceiling of the shower. Yuck.
Did you see him eat that hot dog off the pavement? I almost threw up.
His breath smelled like rotten fish and cigarettes.
That dog just rolled in something dead and now it's all over my jeans.
Ew, you got your sweaty arm all over me.
I can't believe he put his bare feet on the dinner table.
Get your dirty socks out of my face, that's foul.
The fridge at work has had the same rotting salad in it for a month.
Someone sneezed right on the buffet. I'm not eating any of that.
What is this sticky stuff on the seat? I don't even want to know.
The smell from the bins in this heat is unbearable. I'm gagging.
He spat on the floor right in front of the kids. Vile.
I found a long black hair baked into my bread. Disgusting.
That's revolting. He cheated his own sister out of her inheritance.
Lying to a grieving family for money? That's the lowest of the low.
The way he treats his staff makes my skin crawl.
The lake was full of scum and dead fish. I'm not swimming in that.
Ugh, there's a slug on my lettuce!
The baby's nappy leaked all over my shirt. Gross.
I stepped barefoot on something squishy in the dark. Ew.
Don't drink from that cup, there's a fly floating in it.
My roommate hasn't washed his dishes in two weeks. The sink is crawling with flies.
The cinema floor was so sticky my shoes kept peeling off it.
Please don't pop your spots at the dinner table.
That sandwich has been in your bag since Monday? Throw it out, it reeks.
The seafood smelled off and the prawns were grey. I nearly gagged.
Something in the vents smells like a dead animal.
He licked his fingers and then shook my hand. Disgusting.
Oh god, the cat threw up in my shoe.
I can't even talk about what I found in that drain.
That politician took money meant for sick children. It's sickening.
You ate that off the floor of the bus? That's nasty.
The hostel shower had a thick layer of grime and hair. Never again.
The smell of that cheese is making my eyes water. It's putrid.
Gross, you left toenail clippings on the sofa again.
I'm not touching that remote. Do you know where his hands have been?
Ugh, the soup has a fingernail in it.
There's a rat eating out of the bin behind the restaurant. Revolting.
He didn't wash his hands after the toilet and then made sandwiches. I feel sick.
Wiping your nose on the curtain? That's disgusting, Jack.
Those public toilets haven't been cleaned in years. I'd rather hold it.
My brother keeps his old gym socks in a pile under the bed. The smell is rank.
It smells like something is rotting in the walls.
There were maggots crawling in the rubbish bag. I'm going to be sick.
What kind of person kicks a puppy? That's vile.
She mocked a crying child for laughs. Repulsive.
"""

_DISGUSTED_SLOTS = """
ew:
    Ew | Ugh | Yuck | Eww, gross | Ugh, gross | Eugh | Oh, that's nasty | Ew, ew, ew | Gross | Bleurgh
gross:
    mould | maggots | a dead mouse | a long hair | slime | a cockroach | old vomit | green fuzz
    a used plaster | toenail clippings | clumps of fur | a slug | a squashed bug | sticky gunk | a dead fly
    someone's chewed gum | a fingernail | a worm | a hairball | mouse droppings | a soggy cigarette butt
gross_place:
    in the fridge | in my soup | in the shower drain | under the sink | on the bus seat | in the salad
    behind the sofa | in my shoe | on the gym mat | in the coffee machine | in the bathtub | in my lunch box
    on the kitchen counter | in the hotel bed | on your pillow | in the butter | in my drink
    under the fridge | in the kids' paddling pool
smell_src:
    the bins | this fridge | your gym bag | the bathroom | the fish counter | this old sock | the dog
    the train carriage | the locker room | that cheese | the drain | the leftovers | your car
    the compost heap | the basement | the sink | the washing machine | the lunch box
smell_like:
    rotten eggs | something died | old socks | sour milk | sewage | a wet dog | vomit | rotting fish
    a blocked toilet | burnt hair | mouldy cheese | stale sweat | rotten cabbage | cat pee | a dead rat
    a dirty nappy
reaction:
    I think I'm going to be sick | I'm going to throw up | that makes my stomach turn
    I can't even look at it
    I literally gagged | I feel sick just thinking about it | my skin is crawling
    I need a shower after seeing that | I might actually vomit | I'm going to gag | my stomach is churning
    I just lost my appetite
cover:
    mould | slime | grease | fur | ants | green fuzz | sticky gunk | flies | someone's spit | dog hair
    grime | fingerprints and grease | old sauce | white spots of mould | hair | maggots
food:
    bread | cheese | leftover curry | peaches | sandwich | yoghurt | pizza | salad | rice | cake | chicken
    tuna | soup | ham | milk | strawberries
left:
    used tissues | a dirty nappy | chewed gum | toenail clippings | half-eaten food | wet socks
    greasy plates | hairballs | a used plaster | dirty underwear | fish bones
left_place:
    on the table | in the sink | on the sofa | in the car | under the bed | on the bathroom floor
    in the living room | by the front door | on the kitchen counter | in the shower
gross_act:
    pick your nose | lick the spoon and put it back | spit in the sink | sneeze on the food
    drink straight from the carton | eat that off the floor | wipe your nose on your sleeve
    scratch your feet at the table | double-dip the chips | clip your nails at the table | burp in my face
    put your dirty shoes on the bed | eat a bug | blow your nose on the napkin
gross_ing:
    picking your nose | chewing with your mouth open | slurping like that | clipping your nails at the table
    popping your spots | licking your fingers | spitting on the pavement | sniffing your socks
    picking your teeth | wiping your hands on your trousers | burping at the table
    scratching your scalp over the food
venue:
    the stadium | the station | the campsite | the festival | the petrol station | that bar | the club
    the ferry | that motel | the hostel | the bus depot | that fast food place | the beach
room:
    kitchen | bathroom | bedroom | shower | floor | toilet | mattress
lodging:
    that motel | the hostel | the holiday flat | the student house | that cheap hotel | the old cabin
    my cousin's flat | the campsite
open_src:
    the fridge | the bin | your gym bag | the lunch box | the washing machine | the car boot | that tupperware
    the drain cover | the compost bin | the cupboard under the sink
bugs:
    cockroaches | ants | bedbugs | maggots | fleas | silverfish | flies | mice | rats | lice | slugs | worms
surface:
    the kitchen table | the bread | my pillow | the kids' toys | the fruit | the bathroom floor
    the hotel sheets | the cake | the bin | the rug
squish:
    wet | squishy | slimy | sticky | warm | mushy | gooey | greasy | crusty
bad_taste:
    soap | old socks | dirt | rotten fish | mould | sour milk | rancid oil | pond water | burnt hair
    wet cardboard | sweat | bin juice
moral:
    cheated on a loyal partner with a close friend | stole from a charity box | kicked a stray dog
    lied to a dying man to get his money | took money from the kids' sports fund
    mocked a kid in a wheelchair | sold fake medicine to old people | spat in a waiter's face
    left a dog in a hot car | stole from an old lady's purse | bullied a little kid until he cried
    cheated pensioners out of their savings | laughed at a homeless man
    sold rotten meat to a school canteen | let the cleaner take the blame for a theft
    filmed a crying stranger for likes
moral_react:
    That's vile. | That's sickening. | That is absolutely repulsive. | That makes me sick to my stomach.
    What a disgusting thing to do. | I feel dirty just hearing about it. | How revolting.
    That's nauseating. | That's just foul. | What a revolting human being.
moral_base:
    steal from a charity box | kick a defenceless animal | cheat old people out of their savings
    mock a sick child | sell fake medicine | leave a dog in a hot car | steal from their own family
    laugh at someone's funeral | cheat on someone who loves them | lie to a grieving widow for money
    bully someone half their size
moral_pres:
    steals from charity | kicks a defenceless animal | cheats old people out of their savings
    mocks sick kids | leaves a dog in a hot car | steals from their own family
    lies to grieving families for money | bullies someone half their size | spits on other people
    sells rotten food to kids
gross_habit:
    slurps soup | picks their teeth with a fork | leaves hair in the drain | never washes their hands
    wears the same socks all week | spits when they talk | cuts their toenails in the living room
    licks their plate | sniffs the milk and drinks it anyway | coughs all over everyone
    keeps old pizza under the bed | never flushes | cleans their ears with a key
mess_place:
    the shared fridge | the office microwave | your bedroom | the bus shelter | the dorm kitchen | his car
    the hostel bathroom | the gym showers | the back of the van | the staff toilet | that kebab shop
    the cat's litter tray | the barbecue grill
gross_object:
    railing | door handle | seat | table | remote | steering wheel | tray | keyboard | bin lid
    bottom of the desk | handrail on the bus | phone screen
contaminate:
    on the floor | in the dog's mouth | in the bin | sitting in the sun all week | licked by the cat
    in your pocket for a month | on the bathroom floor | under the car seat for weeks
    sitting out since Tuesday | in someone else's mouth
gross_thing:
    slimy thing | dead fish | smelly sock | rotten banana | hairball | sweaty shirt | used tissue | dead rat
    mouldy sandwich | slug | greasy rag | soggy sponge | rotten egg
gross_pic:
    his infected toe | the clogged drain | the mouldy bathroom | the maggot-filled bin | the rotting fridge
    your rash | that burst blister | the hotel toilet | the hairy soap bar | that oozing spot
dirty_touch:
    touched the bin | picked up dog poo | cleaned the toilet | scratched your feet | handled raw chicken
    blew your nose | cleaned out the drain | changed the cat litter
liquid:
    the pool | my tea | the soup | the punch bowl | the water jug | your smoothie | the hot tub
    the fish tank
hotel_gross:
    hair all over the sheets | stains on the pillows | a used razor in the shower | mould on the ceiling
    someone's toenails on the carpet | a cockroach in the kettle | sticky carpets | a dirty towel on the floor
smelly:
    your feet | his breath | the bins | that cheese | the gym bag | the dog | the fish | the drain
bathroom_crime:
    threw up in the sink | clogged the toilet | left hair all over the soap | peed on the seat
    spat toothpaste everywhere | left a used plaster in the shower
weird_food:
    pizza with sardines and jam | ketchup on ice cream | cold soup from the tin
    food you found under the sofa | raw eggs straight from the shell | week-old pizza
    mayonnaise with a spoon | the crust someone else bit
slimy_mass:
    grease | blood | pus | slime | mould | hair in the drain | mud and hair | rotten fruit
"""

# ------------------------------------------------------------------------------------------------ fear
_FEAR_TEMPLATES = """
I'm {fear_adj} about {f_event} {future}.
What if {fear_if}? I can't stop thinking about it.
What if {fear_if}, {name}? What do we do then?
I have this horrible feeling that {dread}.
I can't sleep. I keep worrying that {dread}.
Did you hear that? Something is moving {noise_loc}.
Shh, listen. I can hear {noises} {noise_loc}.
{Name}, please don't leave me alone in {scary_place}.
I'm too scared to go into {scary_place} by myself.
My heart is pounding. I think someone is {follow}.
Please pick up, {name}. I'm scared something happened to you.
It's been {duration} and {person} still isn't answering. I'm so worried.
{Person} hasn't come home yet and I'm starting to panic.
The doctor wants to see me about {med}, and I'm terrified.
I'm so scared of what they'll say about {med}.
I'm scared of {phobia}. Please don't make me do this.
I can't {scary_act}, {name}. My legs are shaking.
Please don't make me {scary_act}. I'm too scared.
The {danger} is getting closer and I don't know what to do!
They say {threat_news}, and I'm scared we won't be ready.
I heard {threat_news}. What are we going to do?
I'm afraid {job_fear}.
I'm so worried {job_fear}, {name}.
My hands won't stop shaking. {F_event} is {future}.
I've got knots in my stomach about {f_event} {future}.
What if I mess up {f_event} in front of everyone?
I'm dreading {f_event}. What if I {self_fail}?
Don't go out there, {name}! It's not safe!
Lock the doors. I think someone is {follow}.
I'm scared to tell {person} about {confess}. What if they {react_bad}?
Every time {trigger}, I panic.
My stomach drops every time {trigger}.
I can't breathe, I'm panicking. What if {fear_if}?
Stay close to me, {name}. I don't like the look of {sketchy}.
I don't like {sketchy}. Can we please go back?
What was that? Did something just move {noise_loc}?
I'm shaking. {Person} said {threat_report}.
Oh god, {name}, I think {emergency}!
Help! I think {emergency}!
I keep having nightmares about {nightmare}.
I'm terrified that {job_fear}.
I can't stop checking the locks since {scare_event}.
Are you sure it's safe to {risky}? I've got a really bad feeling.
I'm not going {risky_place} after dark. It's not safe.
My {relative} is in surgery and I'm so scared.
The results come back {future}, and I'm terrified of what they'll say.
Why is the car making that noise? What if we break down {remote_spot}?
I'm {fear_adj}, {name}. What if {fear_if}?
"""

_FEAR_LINES = """
Did you hear that? I think someone's in the house.
Please don't hang up, I'm really scared.
I'm shaking. I really thought that car was going to hit us.
What if they don't let me back into the country?
There's someone standing outside our window. Call the police!
I don't want to go in there. It's too dark.
The plane keeps dropping. Are we going to be okay?
I haven't heard from Mum since the earthquake. I'm so scared.
I keep checking the news. What if the fire reaches our street?
I think I'm having a panic attack. I can't breathe.
I'm so nervous, my hands are sweating.
Please don't leave me here on my own.
The lights just went out and I can hear something moving.
What if I fail and have to repeat the whole year?
I can't stop shaking after that phone call.
Something's wrong. He never stays out this late.
Hurry, lock the door! They're coming back!
I really don't want to get the results. What if it's bad news?
I'm scared to walk home alone tonight.
The water is still rising. We need to get upstairs now!
Stop the car! I think the brakes are gone!
I'm petrified of the dentist. I haven't been in ten years.
What if the dog gets loose again and bites someone?
They're laying people off and I'm next, I just know it.
My chest feels tight every time I think about the interview.
I'm worried sick about Grandpa. He's been coughing for weeks.
There's smoke coming from under the door. What do we do?
Don't let go of my hand. I can't see anything.
Someone has been following me home from the station every night.
I heard the landlord wants to sell. Where would we even go?
I'm so anxious about the surgery I can't eat.
My son isn't answering his phone and he should have been home hours ago.
What if nobody likes my speech and they all laugh at me?
I can't go up there. I'm terrified of heights.
The storm is getting louder. I think the roof is going to come off.
I'm scared this cough is something serious.
Keep your voice down. If they hear us, we're done.
I keep imagining the worst. What if she had an accident?
I dread opening my bank statement every month.
Please, I don't want to die out here.
I think we're lost, and it's getting dark. What do we do?
That man has been staring at us for ten minutes. Let's go.
I've got the exam in an hour and my mind has gone completely blank.
What if the bank says no and we lose the house?
I'm frightened of what he'll do when he finds out.
I can't shake the feeling that something terrible is about to happen.
We have to get out of here, now! Something's not right.
The doctor said it might be serious. I'm so scared.
The ice is cracking under my feet. Don't come any closer!
What if it happens again? I don't think I could cope.
"""

_FEAR_SLOTS = """
f_event:
    the interview | the exam | the presentation | the surgery | the driving test | the audition
    the job review | my first day | the speech | the flight | the race | the meeting with the bank
    the court hearing | the recital | the match | the first date
fear_adj:
    nervous | scared | terrified | anxious | worried sick | really worried | petrified | so scared
    freaking out | a bit nervous | frightened | panicking | really on edge | a nervous wreck
fear_if:
    I freeze up and forget everything | they find out | the brakes fail | the doctor calls with bad news
    nobody comes to help | the water keeps rising | we get lost out there | someone follows us home
    I lose my job | the plane goes down | it's something serious | the money runs out | he never wakes up
    the bridge gives way | I can't pay the rent | they fire everyone | the fire spreads to our street
    we run out of fuel out here | the dog bites | the ice cracks | it happens again | they come back tonight
    I say the wrong thing | the results are bad
dread:
    something is going to go wrong | someone is watching us | we're not alone in here
    they're going to fire me | the results will be bad | the storm is going to get worse | I'm going to fail
    they know where we live | the ice won't hold | we took a wrong turn | something has happened to Dad
    the car won't make it | this is going to end badly
noises:
    footsteps | scratching | knocking | a crash | whispering | a door creaking | someone moving around
    someone trying the handle | a growl | breathing | glass breaking | a thud | tapping
noise_loc:
    downstairs | in the attic | outside the tent | behind the door | in the hallway | in the garage
    under the bed | in the woods | on the roof | in the basement | right outside
scary_place:
    this house | the dark | the basement | this car park | the woods | the hospital | this alley | the lift
    the cave | this hotel | the attic | the forest at night
follow:
    following us | in the house | watching us from that car | outside the window | behind that tree
    trying the back door | hiding in the garden | standing at the end of the road
duration:
    three hours | all night | two whole days | six hours | ages | nearly a day | forty minutes
med:
    my scan results | the lump | my blood tests | my heart | the shadow on the X-ray | the biopsy
    my chest pains | the mole on my back | my headaches | the baby's fever
phobia:
    heights | spiders | deep water | the dark | flying | big dogs | needles | snakes | crowds | thunder
    lifts | clowns | hospitals | driving on the motorway | the ocean | wasps
scary_act:
    go up there | get on the plane | go in the water | touch it | go first | look down | climb that ladder
    cross that bridge | go into the basement | get the injection | open that door | drive on the motorway
danger:
    storm | fire | flood water | dog | smoke | crowd | wave | tornado | wildfire | bear | swarm of wasps
    car behind us
threat_news:
    the storm will hit tonight | there will be layoffs next week | the river could flood
    the company might close | there's a burglar in the area | the rent is going up again
    the flu is spreading at school | the roads will be icy | the dam might not hold
    they're cutting half the team | there was a break-in next door
job_fear:
    I'm going to lose my job | I can't pay the bills this month | the bank will take the house
    we'll have to move | I won't get in | I'll let everyone down | I'll fail the exam | they'll cut my hours
    my visa won't be renewed | I'll never find another job | the business won't survive
    the surgery won't work
self_fail:
    freeze up | forget everything | say something stupid | faint | mess it all up | get it wrong
    let everyone down | panic halfway through
confess:
    the dent in the car | the failed exam | losing my job | the money I owe | the broken vase
    what really happened | the crash | the speeding ticket | the lost passport | the vet bill
react_bad:
    never speak to me again | kick me out | fire me | tell everyone | completely lose it | call the police
    leave me | never trust me again
trigger:
    the phone rings late at night | the boss calls me into the office | the car makes that noise
    I see a police car behind me | I get an email from the bank | the lights flicker | the baby coughs
    someone knocks on the door after dark | the plane hits turbulence | I hear a siren
    the doctor's office calls | the dog growls at nothing
sketchy:
    this place | that man | those clouds | this road | that dog | the ice | this neighbourhood | the water
threat_report:
    they'd come for me | there's been another attack nearby | the tests don't look good
    the factory might shut | there's a man hanging around the school | someone broke into the flat downstairs
emergency:
    the car is sliding | something's burning | someone's in the house | the baby is burning up
    the boat is taking on water | we're lost | the brakes aren't working | the ice is cracking
nightmare:
    the crash | losing you | the fire | being chased | drowning | the break-in | falling | getting lost
scare_event:
    the break-in | that night | the burglary next door | those calls started | I saw that man outside
    the robbery
risky:
    cross here | drive in this | swim out that far | go down there | eat that mushroom | leave the kids
    walk home alone | climb any higher | go in there | take this shortcut
risky_place:
    down that alley | into the woods | through the park | near the river | past that house
    on the night bus alone
relative:
    mum | dad | husband | wife | little brother | grandad | best friend | daughter | son
remote_spot:
    out here | in the middle of nowhere | on the motorway | in the mountains | in this storm | miles from town
"""

# ----------------------------------------------------------------------------------------------- happy
_HAPPY_TEMPLATES = """
{Yay} {Good_news}!
Guess what? {Good_news}! I'm {happy_adj}!
I'm {happy_adj}, {name}. {Good_news}!
I just found out {good_news} and I can't stop smiling.
{Good_news}, and honestly, I'm {happy_adj}.
Thank you so much for {thanks_obj}, {name}. You made my day.
Thanks for {thanks_obj}! I really appreciate it.
You're the best! Thank you for {thanks_obj}.
I'm so proud of you, {name}. {Proud}!
I'm so proud that {proud}. Well done!
I can't wait for {looking}! It's going to be amazing.
I'm {excited} about {looking}!
Only {count} more days until {looking}! I'm {excited}!
This {food_good} is delicious! You have to give me the recipe.
What a gorgeous day! Let's {fun}.
Nothing makes me happier than {love_thing}.
I just love {love_thing}!
This is the best {best} I've ever had!
Best {best} ever! Thank you, {name}!
We did it, {name}! We actually {achievement}!
I'm so happy we {achievement}. All that hard work paid off!
My {pet} {pet_trick} today and I'm so proud of her!
I finally {personal_win}, and I feel amazing!
Look at this, {name}! I {personal_win}!
That's wonderful news about {their_news}, {name}!
Congratulations on {their_news}! I'm so happy for you!
I'm so happy for you, {name}! {Their_news} is such great news.
Let's celebrate {their_news} with {treat}!
This weather is perfect for {fun_ing}! I love it.
{Event} went even better than I hoped! I'm {happy_adj}!
Everything went perfectly at {event}. I'm {happy_adj}!
It's so good to see you, {name}! I've missed you so much!
You always know how to make me smile, {name}.
Yes! We {sports_win}! What a game!
I'm {happy_adj}! We {sports_win}!
I got {gift} for my birthday and I absolutely love it!
Thank you for the {gift_noun}, {name}! That's exactly what I wanted!
{Person} just {kind_act}. That really made my day!
I'm having the best time at {place_fun}! Wish you were here!
What a brilliant {party_x}! Thanks for inviting me, {name}!
Honestly, {event} was so much fun. I'm still smiling.
We're going to {city}! I've wanted to go for years and I'm {excited}!
I feel so lucky to have {lucky}.
I'm grinning from ear to ear. {Good_news}!
My {rel} is coming to visit {future} and I'm {excited}!
{Yay} {Name}, you're the best! Thank you for {thanks_obj}!
"""

_HAPPY_LINES = """
This is the best day of my life!
I love it! Thank you so much!
We won! We played brilliantly today!
I'm so glad you came. It wouldn't be the same without you.
You made my whole week with that message.
Finally, the weekend! I'm going to enjoy every minute of it.
I passed! All those late nights were worth it!
Look at the view from up here! Isn't it beautiful?
This is exactly what I needed. Thank you, really.
Grandma loved the present! She hasn't stopped smiling.
I've never laughed so hard in my life! That was brilliant.
We're going to be parents! I'm over the moon!
Hooray, pizza night! My favourite!
I'm so proud of our team today. Everyone was amazing.
What a lovely present, thank you!
The kids had a brilliant time at the party. Thanks for organising it!
I feel fantastic today. The sun is shining and everything is going right.
I love this song! Turn it up!
We finally paid off the mortgage! Let's celebrate!
You're the best friend anyone could ask for.
Yes! I got the last ticket!
My little girl took her first steps today! I'm so happy!
Thank you for everything. I'm so grateful to have you.
I'm so excited for our holiday, I've already packed!
That was the most fun I've had in ages.
I got the part! I'm going to be in the show!
The garden looks gorgeous this year. I'm so pleased with it.
Our new puppy is the sweetest thing ever!
Dinner was delicious. You've outdone yourself!
I can finally afford my own place! I'm thrilled.
Happy birthday! I hope today is as wonderful as you are.
Yay, you're here! Come in, come in!
My team got promoted to the first division! What a season!
I just love spending Sundays with you.
This is going to be the best summer ever!
I'm so relieved and happy, the operation went perfectly.
Everyone loved the cake I baked! I'm so chuffed.
I got a hundred percent on the test!
This café makes the best hot chocolate. I'm in heaven.
What a fantastic idea! Let's do it!
Aw, you remembered my favourite flowers. That's so sweet.
That was the best weekend ever, honestly.
I'm beaming. My daughter just graduated with honours!
The whole family is together for once. I love it.
We made it to the top! Look at that view!
I can't stop smiling today. Everything just feels right.
My first paycheque! Dinner's on me tonight!
It worked! The app finally runs perfectly!
Oh, I adore this little cottage. Thank you for finding it!
Cheers to us! We totally earned this.
"""

_HAPPY_SLOTS = """
good_news:
    I got the job | we won the match | I passed my exam | we're getting a puppy | my sister had her baby
    I got into university | the trip is booked | I got a promotion | we finally bought the house
    my test results came back clear | I finished the marathon | our team made the finals
    I beat my high score | my article got published | the bank approved our loan
    Grandma is coming home from hospital | I got the scholarship | we're going to Italy this summer
    the adoption went through | my paintings sold at the fair | I got a pay rise | she said yes
happy_adj:
    so happy | thrilled | over the moon | delighted | so excited | really pleased | absolutely ecstatic
    buzzing | on cloud nine | overjoyed | chuffed to bits | so grateful
excited:
    so excited | super excited | thrilled | buzzing | really excited | so pumped | giddy
yay:
    Yes! | Woohoo! | Hooray! | Yay! | This is brilliant! | Awesome! | Finally! | Best day ever!
    I'm so happy! | Get in! | Hurray!
thanks_obj:
    the flowers | the lovely dinner | helping me move | the birthday card | covering my shift
    the ride home | the tickets | the advice | being there for me | the amazing present | fixing my bike
    the kind words | looking after my cat | cooking tonight | the book recommendation | listening
    lending me your car | the gorgeous scarf
proud:
    you passed your driving test | you finished the marathon | you stood up for yourself
    you got the scholarship | you fixed it all by yourself | you finished your first painting | your team won
    you cooked this whole meal | you gave that speech | you learned to swim | you got the lead role
    you kept going when it got hard
looking:
    the holiday | the weekend | the concert | the party | the beach trip | Christmas
    our road trip | the wedding | the new season | the festival | our anniversary dinner
    the match on Saturday | summer | the family reunion | your visit | the game launch
count:
    two | three | five | ten | four | six
food_good:
    lasagne | curry | chocolate cake | soup | pasta | pie | stew | bread | pizza | salad | apple crumble
    ramen | risotto | cheesecake | roast chicken | pancakes
fun:
    go to the beach | have a picnic | eat outside | take the dogs for a long walk | go for a bike ride
    get ice cream | go swimming | have a barbecue | sit in the garden | go to the lake
    play frisbee in the park | go for a hike
love_thing:
    days like this | our Friday game nights | this song | spending time with you | the smell of fresh bread
    summer evenings | this little café | when the whole family gets together | walking in the snow
    your cooking | lazy Sunday mornings | this time of year | watching the sunset from here | our chats
best:
    birthday | holiday | pizza | present | weekend | coffee | concert | day | meal | game night
    road trip | match | party | Christmas | wedding | sleepover
achievement:
    won the tournament | finished the project | paid off the loan | made it to the top | got the house
    beat the final boss | raised the money | launched the app | passed the inspection | sold out the show
    finished the puzzle | made it to the finals | got the grant | planted the whole garden
pet:
    dog | puppy | cat | parrot | kitten | rabbit
pet_trick:
    learned to sit | came when I called | did her first trick | slept through the night | used the cat flap
    made friends with the neighbour's dog | fetched the ball | walked on the lead
personal_win:
    ran five kilometres without stopping | finished my novel | paid off my credit card | learned to swim
    fixed the old bike | passed my driving test | got my first paycheque | planted the vegetable garden
    fit into my old jeans | beat my personal best | hit level fifty | finished every book on my list
    baked bread from scratch | climbed the big hill
their_news:
    the baby | your new job | the wedding | the house | your exam results | the scholarship
    your promotion | the engagement | your recovery | the new puppy | the book deal | your graduation
treat:
    cake | a big dinner | champagne | pizza | a party | ice cream | a night out | a barbecue | cocktails
    a picnic
fun_ing:
    going to the beach | a picnic | eating outside | a long walk | a bike ride | swimming | a barbecue
    sitting in the garden | a hike | flying a kite
sports_win:
    scored in the last minute | won the cup | beat our rivals | made the playoffs | won on penalties
    kept a clean sheet | won the derby | finished top of the league
gift:
    a new bike | concert tickets | a puppy | the camera I wanted | a cookbook | a trip to Paris | a guitar
    a telescope | a handmade quilt | tickets to the final
gift_noun:
    bike | concert tickets | camera | cookbook | guitar | telescope | quilt | scarf | headphones | flowers
    chocolates | book
kind_act:
    brought me coffee | left me a sweet note | fixed my fence for free | invited us for dinner
    paid for my lunch | sent me flowers | helped me carry the shopping | offered to babysit
place_fun:
    the beach | the festival | the fair | the lake | the concert | Grandma's | the zoo | the water park
party_x:
    party | evening | wedding | barbecue | day out | dinner | game night
lucky:
    friends like you | such a great team | a family like this | you in my life | this job
    such kind neighbours | a sister like you | this little garden
rel:
    sister | best friend | brother | grandmother | cousin | oldest friend | dad | mum
"""

# --------------------------------------------------------------------------------------------- neutral
_NEUTRAL_TEMPLATES = """
{Event} starts at {clock} {when}.
What time does {event} start {when}?
Is {event} still on for {when}?
Can you send me the address for {event}?
I'll meet you at {place} at {clock}.
Let's meet outside {place} around {clock}.
Do you know if {place} is open on {day}?
{Place} closes at {clock} on weekdays.
The train to {city} leaves from platform {num}.
Which bus goes to {place} from here?
I need to pick up {errand} from {store} {when}.
Could you grab {errand} on your way home?
Did you remember to {chore}?
I'll {chore} after lunch.
Can you remind me to {chore} later?
The forecast says {weather} {when}.
It's supposed to be {weather} {when}, according to the radio.
How was {event}, by the way?
I think {event} is on the {ordinal} this year.
My {relative} is visiting {when}.
The meeting has been moved to {clock} in room {num}.
Have you had lunch yet? There's {food_plain} in the fridge.
I usually take {transport} to work.
It takes about {dur} to get to {place} from here.
We're out of {grocery}. I'll add it to the list.
Do we need anything else from the shop besides {grocery}?
I've sent you the {doc} by email.
Can you check the {doc} before {deadline}?
The {doc} is in the shared folder under {folder}.
Would you prefer {pair}?
Do you want {pair}, {name}?
I'm going to {store} {when}. Do you need anything?
The engineer is coming to look at the {appliance} {when}.
I'm working from home {when}.
Could you pass me the {table_item}, please?
My phone is on {pct} percent, so I might need to charge it.
I read that the new {film_thing} comes out {when}.
Class starts at {clock}, and we're in room {num}.
The dog needs a walk before {clock}.
{Name}, the taxi will be here in {dur}.
Okay, {name}. I'll call you when I get to {place}.
So, what are you up to {when}?
Have you been to {spot} before?
We usually have dinner at around {dinner}.
{Price_item} went up to {price} this month.
I've booked a table for {num} at {clock}.
Does anyone know how to {howto}?
I'll be there in about {dur}.
Let me know when you've finished with the {shared_item}.
I'm going to {weekend_plan} this weekend.
Which {subject} class are you taking this term?
Do you still play {sport} on Thursdays?
{Name}, did you get my message about {event}?
I think {person} is organising {event}.
The {doc} needs to be signed by {deadline}.
"""

_NEUTRAL_LINES = """
Could you pass me the salt, please?
The wifi password is on the back of the router.
I think it's going to rain later.
The meeting is on the third floor, second door on the left.
What did you have for breakfast?
I'll be back in about ten minutes.
Do you take milk in your coffee?
The bus comes every fifteen minutes.
We need to leave by eight to get there on time.
My phone number changed, let me give you the new one.
I usually go for a walk after dinner.
The library is next to the post office.
Do you want me to drive or shall we take the train?
I'm just heading out to get some groceries.
Have you seen my blue folder anywhere?
The game is on at seven on channel four.
I moved the spare keys to the drawer by the door.
The printer on this floor is out of toner.
We've got a dentist appointment on Thursday afternoon.
The new timetable starts next month.
Let's split the bill three ways.
It's about a two-hour drive from here.
I'll text you the details later.
The shop on the corner sells stamps.
Can you check what time the pharmacy closes?
I'm going to make some tea. Do you want one?
The parcel should arrive between nine and twelve.
My sister lives about an hour north of here.
I think the cinema has a late showing on Fridays.
The recipe says to bake it for forty minutes.
Remember we're having dinner at my parents' on Sunday.
I've put your mail on the kitchen table.
The lift is out of order, so we'll take the stairs.
How long have you lived in this neighbourhood?
The car needs an oil change next month.
Which platform does the Glasgow train leave from?
We're meeting the others at the pub around eight.
I left the umbrella in the hallway.
The kids have a school trip on Wednesday.
The forms need to be in by Friday.
What are you having for lunch today?
I'll put the laundry on before I go.
There's a pharmacy just past the traffic lights.
The match kicks off at three.
I'm going to the gym after work.
My flight lands at half past six.
The cat's food is in the cupboard under the sink.
We can take the ring road to avoid the town centre.
Do you know where the nearest cash machine is?
I finished the report. It's on your desk.
"""

_NEUTRAL_SLOTS = """
when:
    tomorrow | on Friday | next Tuesday | this evening | on Monday morning | next week | on Saturday
    after lunch | tonight | on the fifth
deadline:
    Friday | Monday | tomorrow morning | the end of the day | the end of the week | noon | the fifth
    the meeting
ordinal:
    first | third | ninth | twelfth | fifteenth | twentieth | twenty-eighth
spot:
    that new Thai place | the market on Elm Street | the museum downtown | the lake | the climbing centre
    the new library | the garden centre | the retail park | the old town | the ice rink
dinner:
    six | half past six | seven | seven thirty | eight | quarter past seven
day:
    Sundays | public holidays | Monday mornings | Saturdays | bank holidays | weekday evenings
num:
    two | three | four | five | six | seven | eight | nine | twelve
errand:
    some milk | the dry cleaning | a parcel | my prescription | printer paper | bread and eggs
    a birthday card | the spare keys | batteries | dog food | stamps | a new light bulb
store:
    the supermarket | the post office | the pharmacy | the corner shop | the hardware store | the bank
    the garden centre | the bakery
chore:
    take the bins out | water the plants | lock the back door | book the car in for a service
    reply to the landlord | pay the electricity bill | feed the cat | charge the laptop | set the alarm
    renew the parking permit | call the dentist | send the invoice | defrost the freezer
    return the library books
weather:
    light rain | sunny spells | about eighteen degrees | cloudy in the morning | quite windy
    a chance of showers | snow on the hills | fog until noon | dry but cold | around twenty-five degrees
relative:
    sister | uncle | parents | cousin | grandmother | brother-in-law | aunt | in-laws
food_plain:
    some pasta | leftover rice | soup | sandwiches | salad | half a pizza | some chicken | a bit of curry
transport:
    the bus | the train | my bike | the tram | the underground | the ferry | the car | the night bus
dur:
    ten minutes | twenty minutes | half an hour | an hour | fifteen minutes | forty-five minutes
    about two hours
grocery:
    coffee | milk | bread | rice | washing-up liquid | toilet paper | eggs | butter | olive oil | tea bags
    cereal | onions
doc:
    report | invoice | slides | timetable | spreadsheet | booking confirmation | form | meeting notes
    schedule | photos | contract | receipt
folder:
    Projects | Finance | Travel | Admin | Drafts | Shared | Archive
pair:
    tea or coffee | the window seat or the aisle | pasta or rice | the red one or the blue one
    Saturday or Sunday | the early train or the later one | cash or card | still or sparkling water
    the small size or the large | chips or salad | the morning slot or the afternoon
appliance:
    boiler | washing machine | fridge | dishwasher | heating | router | oven | air conditioning
table_item:
    salt | pepper | bread | water jug | remote | stapler | charger | menu | napkins | butter | scissors
film_thing:
    film | album | season of that show | game update | phone model | book in the series | episode
pct:
    twenty | fifty | ten | thirty | eighty
price_item:
    the bus fare | a coffee | the gym membership | a loaf of bread | the parking | a cinema ticket
price:
    two pounds fifty | three dollars | twelve euros | four pounds | five dollars | eight euros
howto:
    reset the printer | change the screen brightness | turn on subtitles | book a meeting room
    get to the car park | update the app | connect to the projector | change a tyre
    set up the new router | renew a passport
shared_item:
    bathroom | laptop | car | book | stapler | hairdryer | ladder | vacuum cleaner | printer | iron
weekend_plan:
    visit my parents | clean out the garage | do some gardening | catch up on emails | go to the market
    paint the fence | sort out my taxes | watch the match at home | go for a run | do the food shop
    take the car for a wash | finish a jigsaw
subject:
    maths | history | French | chemistry | art | biology | economics | music
sport:
    football | basketball | tennis | rugby | cricket | hockey | badminton
"""

# ------------------------------------------------------------------------------------------------- sad
_SAD_TEMPLATES = """
{Loss}, and I just can't stop crying.
I'm {sad_adj}, {name}. {Loss}.
I found out {past} that {loss}.
Ever since {loss}, nothing feels the same.
I miss {missing} so much it hurts.
I really miss {missing}. It's just not the same anymore.
{Regret}. And now it's too late.
{Regret}, and it still hurts every day.
I was really looking forward to {social}, but it got cancelled.
I didn't get picked for {team_thing}. I really thought I had a chance.
They chose someone else for {team_thing}. I'm {sad_adj}.
I spent {holiday} alone this year. It was really lonely.
Everyone's busy, so I'm spending {holiday} on my own again.
I feel so alone in {place_new}.
It's our first {season} without {missing_person}.
I keep setting a place at the table for {missing_person}.
{Mp_poss} chair is still empty, and I can't bear to move it.
We lost {game_ctx}, and I feel awful for the whole team.
All that work, and it was for nothing. I'm {sad_adj}.
I'm {sad_adj} that {loss}.
We had to put {pet_name} down {past}. The house feels so empty.
I tried my best at {perf_event}, but it still wasn't good enough.
{Perf_event} went badly, and I feel like such a failure.
I haven't heard from {friend_who} in months. I guess we've drifted apart.
I thought {friend_who} cared about me, but I was wrong.
It hurts that {friend_who} didn't even call on my birthday.
I cried all the way home after {event}.
I'll never see {missing_person} again, will I?
Looking at old photos of {missing_person} makes me want to cry.
The house is so quiet since {departure}.
I really wish {wish}.
I just wish {wish}. It hurts so much.
I got the rejection letter from {org} {past}. I'm {sad_adj}.
{Org} turned me down. I guess I'm just not good enough.
I'm sorry, I'm just not in the mood to talk. {Loss}.
Nobody even noticed I wasn't at {event}.
I worked so hard on {work_thing}, and nobody even looked at it.
I don't really have anyone to talk to anymore, {name}.
Every time I hear {sound}, I think of {missing_person} and tear up.
It's been {dur_long} since {departure}, and it still hurts.
I can't believe {missing_person} is really gone.
I lost {lost_thing}, and it can never be replaced.
{Name}, I'm so tired of feeling lonely all the time.
I thought {social} would cheer me up, but I just felt empty.
We used to {old_habit} every {period}. Now I do it alone.
My {elder} barely recognises me anymore. It breaks my heart.
I gave it everything at {contest} and still came last.
"""

_SAD_LINES = """
I miss him so much. I keep expecting him to walk through the door.
It's been a year since she died, and it still hurts like it was yesterday.
I didn't get in. I really thought this was my year.
Nobody remembered my birthday this year.
I sat by the phone all evening, but she never called.
We had to sell Dad's car. It felt like losing him all over again.
I feel so lonely since I moved here.
I'm sorry I let you down. I really tried.
The kids are all grown up now and the house is so quiet.
Our old dog passed away this morning.
I just don't see the point in trying anymore.
I wanted to say goodbye, but I got there too late.
Everyone else seems to have someone except me.
It was my last day at the school today. I'm going to miss everyone.
I failed again. I don't know why I even bother.
She packed her things and left. Just like that.
Tonight is the first night in the new place, and it doesn't feel like home.
I keep rereading his old messages.
My best friend is moving across the country next week.
I wish I could have done more to help her.
The doctor said there's nothing more they can do for Grandad.
I put so much into that relationship and it just fell apart.
We lost the final. All those months of training for nothing.
I'm trying to be strong, but I miss my mum every single day.
Nobody showed up to my art exhibition except my parents.
I really thought we'd grow old together.
That was our song. I can't listen to it anymore.
My flatmates went out and didn't invite me again.
I found her old letters today and cried for an hour.
I'll never get to hear his laugh again.
It's raining, everyone's away, and I feel so low.
I didn't even get an interview. Not one reply.
Saying goodbye at the airport was the hardest thing I've ever done.
Our little shop closes for good on Friday. Forty years, gone.
I let my team down today. I missed the penalty that mattered.
I miss the way things were before everything changed.
He doesn't even remember my name anymore.
I feel like I'm invisible at work. Nobody listens.
I had to give my cat away because the new flat doesn't allow pets.
I wish you didn't have to go. I'll miss you so much.
It's hard watching everyone move on while I'm still stuck.
Our holiday got cancelled, and I'd been saving for it all year.
I spent the whole evening alone on my birthday.
I regret not visiting more when she was still here.
I'm heartbroken. We tried so hard for this baby.
All my old friends have drifted away.
Packing up her room was the hardest thing I've ever had to do.
I used to love this town, but there's nothing left for me here.
I'm just so disappointed in myself.
My son hasn't called in months. I miss him terribly.
"""

_SAD_SLOTS = """
loss:
    my grandmother passed away | my dog died | we broke up | I didn't get the job | they cancelled the trip
    my best friend moved away | I failed the exam | nobody came to my party
    the little bookshop closed for good | I lost my job | our team got knocked out
    my parents are splitting up | my cat went missing | Grandpa died | my friend stopped talking to me
    the adoption fell through | I didn't make the team | she left me | my uncle's cancer came back
sad_adj:
    so sad | heartbroken | really down | miserable | gutted | devastated | so low | crushed | a bit blue
    empty inside | completely lost | so disappointed
missing:
    my mum | the old house | my friends back home | our dog | the way things used to be | my dad | you
    my grandmother's cooking | university | our old team | my brother | Grandpa | those summers at the lake
    my old life | the kids being little
regret:
    I should have called her more often | I never got to say goodbye | I wish I'd told him how I felt
    I should have tried harder | I wish I'd spent more time with them | I shouldn't have said those things
    I wish I could take it all back | I should have been there | I never thanked her properly
    I let him down when he needed me
team_thing:
    the team | the lead role | the scholarship | the promotion | the choir | the trip abroad
    the final squad | the band | the internship | the job
holiday:
    Christmas | my birthday | New Year's Eve | the whole weekend | Easter | Thanksgiving | our anniversary
    the summer holidays
season:
    Christmas | Easter | summer | family holiday | Sunday lunch | New Year | anniversary
place_new:
    this new city | this big house | the flat since you left | this school | the office these days
    this town | the dorm
missing_person:
    Dad | Grandma | Mum | my brother | our dog | Grandpa | her | him | my best friend | Auntie Rose
mp_poss:
    Dad's | Grandma's | Mum's | my brother's | Grandpa's | my husband's | my wife's | Auntie Rose's
game_ctx:
    the final | the match in the last minute | the championship | every game this season | the tournament
    the cup on penalties
pet_name:
    our old dog | Biscuit | the cat | Max | Luna | our rabbit | Pepper
friend_who:
    my best friend | my brother | my old roommate | anyone from school | my sister | my oldest friend
    my cousin | my dad | my girlfriend | my boyfriend
departure:
    the kids moved out | you left | Grandpa died | the dog passed | my roommate moved away
    Mum went into the care home | we split up
wish:
    things had turned out differently | you could stay a little longer | Dad could see this
    we hadn't argued before she left | I'd been a better friend | we could go back to how it was
    I'd visited him one last time | I'd listened to you
org:
    the university | my dream job | the publisher | the art school | the band | the medical school
    the football academy | the bank
work_thing:
    the project | that drawing | the proposal | my novel | the garden | the presentation | the song
sound:
    that song | rain on the window | church bells | the ice cream van | her favourite hymn
    an old record playing
dur_long:
    a year | six months | three years | a whole year | ten years | a month
lost_thing:
    my grandmother's ring | all my photos from that trip | Dad's old watch | the letters she wrote me
    my wedding ring | the last video of him
old_habit:
    walk the dog together | have breakfast at that café | play cards | call each other | go fishing
    watch films | cook together
period:
    Sunday | weekend | summer | evening | morning | Friday night
elder:
    grandmother | grandad | mum | dad | uncle | aunt
perf_event:
    the interview | the exam | the audition | the driving test | the presentation | the race | the recital
    the tryouts
social:
    the party | the concert | the trip | the barbecue | the game night | the wedding | the festival
    the school trip
contest:
    the race | the tournament | the audition | the science fair | the cook-off | the spelling bee
    the swim meet | the talent show
"""

# ------------------------------------------------------------------------------------------- surprised
_SURPRISED_TEMPLATES = """
{S_open} {News}?
Wait, {news}? Is that true?
I had no idea {news}!
{News}? I never would have guessed!
Hold on, did you just say {news}?
{News}? When did that happen?
You're telling me {news}? I'm stunned.
{Name}! What are you doing here? I thought you were in {city}!
I didn't expect to see you at {place}, {name}!
Fancy running into you at {place}! What a coincidence!
Whoa, {obs}!
{S_open} {Obs}! How did that happen?
Wait, {obs}? I did not expect that.
{Price_thing} cost {big_price}? You're kidding me!
I didn't know you could {skill}!
Since when can you {skill}? I had no clue!
You {did}? Are you serious?
Wait, you actually {did}? I had no idea!
{Person} {did}? You're joking!
It's already {clock}? Where did the time go?
The {underdog} actually won? Against them?
I never thought I'd see the day {rare}.
I can't believe my eyes! {Obs}!
Hang on, the {lost_item} was in {odd_place} the whole time?
How on earth did you {feat}?
{Name}, is that really you? I haven't seen you in {years}!
{News}? Whoa, I need to sit down.
Wait, say that again. {News}?
{S_open} I did not see that coming at all.
No way, {name}! {News}? I'm speechless.
My jaw just dropped. {News}?
I'm stunned. I honestly thought {expected}.
Hold on, I thought {expected}! What happened?
Really? {Person} said that? That doesn't sound like them at all.
{Event} is {moved}? I thought it was next month!
Wait, {event} already happened? How did I miss it?
{S_open} {Person} is here? I thought they'd moved to {city}!
You got {result} on the test? I didn't think that was even possible!
Wait, you're telling me {person} {did}? I don't believe it.
Is that a {animal} in the {spot}? How did it get there?
{S_open} {Price_thing} only cost {small_price}?
Oh my gosh, {name}! You {did}?
Wait a minute, {news}? That's news to me!
You're kidding! {Sellout} sold out in {short_time}?
{Obs}? I must be dreaming.
What a shock! I never expected {shock_thing}.
"""

_SURPRISED_LINES = """
Whoa, that came out of nowhere!
A surprise party? For me? I had absolutely no idea!
Wait, what? Say that again!
You're here already? I thought your flight was delayed!
I can't believe it. After all these years, you're back!
Did that really just happen?
Are you kidding me? The exam was today?
Wow, I did not expect that plot twist at all!
No way! You're the one who wrote that song?
Hold on, the restaurant closed? But it was packed last week!
I never expected to see snow in June!
Is this real? Somebody pinch me!
Wait, you have a brother? You never mentioned him!
Oh my gosh, the baby's already walking?
She's how old? She looks twenty!
How did you get in here? The door was locked!
You finished the whole puzzle overnight? Seriously?
The car started first time? That's a miracle.
Whoa, where did all these people come from?
Hang on, you knew about this the whole time?
I didn't see you come in! When did you get back?
He proposed? Right there in the middle of the match?
You sold your car? But you loved that car!
No way, it's been ten years already?
The plane landed forty minutes early? That never happens.
Wait, we have a test today? Since when?
Octopuses have three hearts? I had no idea!
That's your mum? I thought she was your sister!
The price dropped by half overnight? How?
I opened the door and the whole class was standing there!
Whoa, the lake is completely frozen!
They let you keep the trophy? I didn't know that was allowed.
Really? The new guy is the owner's son?
Ten goals in one match? Are you serious?
You mean you've never had pizza? Not once?
He actually showed up? I never thought he would!
Wait, they cancelled the whole festival?
Goodness, you've grown so much since last summer!
What on earth? There's a horse in the garden!
You got the tickets? How? They sold out in minutes!
She beat the world champion? No way!
I can't believe my eyes. Is that really my old bike?
That's the same jacket I bought in Paris! What are the odds?
You two know each other? Small world!
Wow, the old house looks completely different now!
Hold on, I won? Me?
The whole office was already empty when I arrived? Where is everyone?
They found the missing dog two hundred miles away? Unbelievable!
Whoa! The fireworks started early!
Hang on, it's Friday already? Where did the week go?
"""

_SURPRISED_SLOTS = """
s_open:
    Wait, what? | No way! | What?! | Whoa! | Seriously? | You're kidding! | Are you serious? | Hold on!
    Really? | Oh my gosh! | Get out! | Wow! | Hang on! | Wait a second! | You're joking!
news:
    you're moving to Japan | they're getting married | you quit your job | the shop closed down
    you're a twin | the match was cancelled | she's the new boss | you speak five languages
    your dad was a pilot | the exam was cancelled | they sold the house | you've never seen the sea
    he's only nineteen | the whole team is leaving | the band split up | it's your birthday today
    our teacher used to be a pro skater | you've been here since six | the cat had kittens
    the old cinema is reopening | you grew up on a boat | they're opening a zoo in town
    you two are dating
obs:
    you cut your hair | the whole street is flooded | it's snowing in May | the kitchen is spotless
    the bill is only five pounds | there's a deer in the garden | you're already here
    the lights came back on | the bus is actually on time | there are hundreds of people here
    the cake is still warm | your brother is taller than you now | the old tree is gone
    the river froze over | the shop is already open | the whole class showed up
skill:
    play the piano | speak Italian | juggle | cook like this | do a backflip | draw like that | fly a plane
    sing like that | write code | ski | solve puzzles that fast | play the drums | speak sign language
    do magic tricks
did:
    ran a marathon | met the prime minister | quit the band | bought a boat | shaved off the beard
    adopted three cats | got married in Las Vegas | swam with sharks | won the whole tournament
    wrote a book | moved to Australia | learned Japanese in a year | climbed Kilimanjaro | sold the company
    built that shed alone | won the lottery
big_price:
    three thousand pounds | a million dollars | two hundred euros | five hundred quid | forty pounds
    ninety dollars
small_price:
    a pound | two dollars | fifty pence | five euros | nothing
price_thing:
    that sandwich | the repair | one ticket | that painting | the jacket | that little bottle of water
    this old comic | your trainers | the parking
rare:
    you'd wake up before eight | my brother would cook dinner | the bus would come early
    it would snow here in April | you'd clean your room | Dad would dance | our team would win the cup
    the printer would work first time | you'd be early for once | my cat would like a dog
lost_item:
    keys | remote | passport | ring | wallet | missing sock | homework | glasses | phone charger | cat
odd_place:
    the fridge | my coat pocket | the dog's bed | your car | the washing machine | the freezer
    the letterbox | the biscuit tin | the garden shed | my other shoe
feat:
    get here so fast | know I'd be here | get tickets | fix it in five minutes | find this place
    get a table tonight | meet him | pull that off | finish it already | grow so tall | afford this
    learn that so quickly
years:
    ten years | ages | forever | a decade | twenty years
expected:
    the shop was closed | you were still asleep | the exam was next week | you hated football
    he was older than me | we'd lost | it was a joke | the trip was cancelled | you lived in London
    you were vegetarian | the party was on Sunday | you two had broken up
underdog:
    underdogs | home team | school team | worst team in the league | local club | bottom team
moved:
    today | tomorrow | this afternoon | tonight | in an hour | this morning
result:
    full marks | ninety-eight percent | the top score | a perfect grade
animal:
    peacock | goat | fox | deer | tortoise | parrot | llama | seal
spot:
    garden | car park | kitchen | school yard | office lobby | street | swimming pool
sellout:
    the concert | the festival | the show | the match | the tour | the new game | the cup final
short_time:
    ten minutes | an hour | two minutes | a single morning | thirty seconds
shock_thing:
    to win anything | to see her there | the results so soon | him to say yes
    the house to sell so fast | the boss to apologise | to bump into you here | that ending
"""

_BANK_TEXT: dict[str, tuple[str, str, str]] = {
    "angry": (_ANGRY_TEMPLATES, _ANGRY_LINES, _ANGRY_SLOTS),
    "contempt": (_CONTEMPT_TEMPLATES, _CONTEMPT_LINES, _CONTEMPT_SLOTS),
    "disgusted": (_DISGUSTED_TEMPLATES, _DISGUSTED_LINES, _DISGUSTED_SLOTS),
    "fear": (_FEAR_TEMPLATES, _FEAR_LINES, _FEAR_SLOTS),
    "happy": (_HAPPY_TEMPLATES, _HAPPY_LINES, _HAPPY_SLOTS),
    "neutral": (_NEUTRAL_TEMPLATES, _NEUTRAL_LINES, _NEUTRAL_SLOTS),
    "sad": (_SAD_TEMPLATES, _SAD_LINES, _SAD_SLOTS),
    "surprised": (_SURPRISED_TEMPLATES, _SURPRISED_LINES, _SURPRISED_SLOTS),
}

# ---------------------------------------------------------------------------------------------------------
# Machinery
# ---------------------------------------------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"\{([A-Za-z_]+)\}")
_NON_WORD = re.compile(r"[^a-z0-9]+")
#: Share of an emotion's lines taken from its hand-written standalone lines (when there are that many).
_STANDALONE_SHARE = 0.25
#: The slot of addressees' names (see `_Template.variety`).
_NAME_SLOT = "name"


def _capitalise(text: str) -> str:
    return text[:1].upper() + text[1:]


def _tidy(text: str) -> str:
    return _capitalise(" ".join(text.split()))


def _key(text: str) -> str:
    """Identity of a line for uniqueness: its lower-cased words, punctuation ignored."""
    return " ".join(_NON_WORD.sub(" ", text.lower()).split())


def _fits(text: str) -> bool:
    return MIN_WORDS <= len(text.split()) <= MAX_WORDS


def _parse_lines(text: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(line.strip() for line in text.splitlines() if line.strip()))


def _parse_slots(text: str) -> dict[str, tuple[str, ...]]:
    slots: dict[str, list[str]] = {}
    current: str | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.endswith(":") and "|" not in line:
            current = line[:-1].strip()
            if current in slots:
                raise ValueError(f"slot {current!r} is defined twice in one bank")
            slots[current] = []
        elif current is None:
            raise ValueError(f"slot fillers {line!r} come before any slot name")
        else:
            slots[current].extend(item.strip() for item in line.split("|") if item.strip())
    return {name: tuple(dict.fromkeys(fillers)) for name, fillers in slots.items()}


@dataclass(frozen=True)
class _Template:
    """A sentence skeleton: literal pieces around its placeholders and the fillers of each placeholder.

    `variety` counts its expansions when the addressee's name is ignored: the most lines `build_corpus`
    takes from it before every other template has had its turn, so that a skeleton whose only slot is a
    name does not fill the corpus with near-copies.
    """

    pieces: tuple[str, ...]
    choices: tuple[tuple[str, ...], ...]
    variety: int

    @property
    def size(self) -> int:
        size = 1
        for options in self.choices:
            size *= len(options)
        return size

    def render(self, index: int) -> str:
        """The expansion number `index` (0 <= index < size): a mixed-radix pick of one filler per slot."""
        parts = [self.pieces[0]]
        for position, options in enumerate(self.choices):
            index, pick = divmod(index, len(options))
            parts.append(options[pick])
            parts.append(self.pieces[position + 1])
        return _tidy("".join(parts))

    def expansions(self) -> Iterator[str]:
        for picks in itertools.product(*self.choices):
            parts = [self.pieces[0]]
            for position, filler in enumerate(picks):
                parts.append(filler)
                parts.append(self.pieces[position + 1])
            yield _tidy("".join(parts))


@dataclass(frozen=True)
class _Bank:
    lines: tuple[str, ...]
    templates: tuple[_Template, ...]


def _compile_template(text: str, slots: dict[str, tuple[str, ...]]) -> _Template:
    pieces: list[str] = []
    choices: list[tuple[str, ...]] = []
    variety = 1
    start = 0
    for match in _PLACEHOLDER.finditer(text):
        name = match.group(1)
        slot = name[:1].lower() + name[1:]
        if slot not in slots:
            raise ValueError(f"template {text!r} uses unknown slot {{{name}}}")
        options = slots[slot]
        if slot != _NAME_SLOT:
            variety *= len(options)
        if name[:1].isupper():
            options = tuple(_capitalise(option) for option in options)
        pieces.append(text[start : match.start()])
        choices.append(options)
        start = match.end()
    pieces.append(text[start:])
    return _Template(pieces=tuple(pieces), choices=tuple(choices), variety=variety)


@cache
def _bank(emotion: str) -> _Bank:
    if emotion not in _BANK_TEXT:
        raise ValueError(f"no phrase bank for emotion {emotion!r}; banks exist for {', '.join(_BANK_TEXT)}")
    templates_text, lines_text, slots_text = _BANK_TEXT[emotion]
    slots = {**_parse_slots(_SHARED_SLOTS), **_parse_slots(slots_text)}
    templates = tuple(_compile_template(text, slots) for text in _parse_lines(templates_text))
    lines = tuple(_tidy(line) for line in _parse_lines(lines_text))
    return _Bank(lines=lines, templates=templates)


@cache
def _capacity(emotion: str) -> int:
    bank = _bank(emotion)
    keys = {_key(line) for line in bank.lines if _fits(line)}
    for template in bank.templates:
        keys.update(_key(text) for text in template.expansions() if _fits(text))
    return len(keys)


def corpus_capacity() -> dict[str, int]:
    """Number of unique lines (4-25 words) each emotion's bank can make, in EMOTIONS order.

    Counted per emotion alone; `build_corpus` also keeps texts unique across emotions, which can only
    lower these numbers by the (rare) lines two banks share.
    """
    return {emotion: _capacity(emotion) for emotion in EMOTIONS}


def _shuffled_indices(size: int, rng: random.Random) -> Iterator[int]:
    """Every index in range(size) once, in random order, drawn lazily (cheap when few are needed)."""
    used: set[int] = set()
    while 2 * len(used) < size:
        index = rng.randrange(size)
        if index not in used:
            used.add(index)
            yield index
    rest = [index for index in range(size) if index not in used]
    rng.shuffle(rest)
    yield from rest


def _draw(emotion: str, count: int, rng: random.Random, taken: set[str]) -> list[str]:
    """Up to `count` new lines of one emotion: a share of the standalone lines, then the templates round-robin
    (one new expansion per template per turn, each at most `variety` lines in this first pass) so that every
    skeleton is represented, then the templates again without that limit, then any standalone lines left
    over. Keys of accepted lines go into `taken`, which spans all emotions."""
    bank = _bank(emotion)
    picked: list[str] = []

    def take(text: str) -> bool:
        if not _fits(text):
            return False
        key = _key(text)
        if key in taken:
            return False
        taken.add(key)
        picked.append(text)
        return True

    standalone = rng.sample(bank.lines, len(bank.lines))
    share = max(1, round(count * _STANDALONE_SHARE))
    reserve: list[str] = []
    for line in standalone:
        if len(picked) < min(share, count):
            take(line)
        else:
            reserve.append(line)

    order = rng.sample(range(len(bank.templates)), len(bank.templates))
    sources = {number: _shuffled_indices(bank.templates[number].size, rng) for number in order}
    used = dict.fromkeys(order, 0)
    for limited in (True, False):
        queue = deque(number for number in order if number in sources)
        while queue and len(picked) < count:
            number = queue.popleft()
            template = bank.templates[number]
            if limited and used[number] >= template.variety:
                continue
            for index in sources[number]:
                if take(template.render(index)):
                    used[number] += 1
                    queue.append(number)
                    break
            else:
                del sources[number]

    for line in reserve:
        if len(picked) >= count:
            break
        take(line)
    return picked


def build_corpus(per_emotion: int = 600, seed: int = 0) -> list[tuple[str, str]]:
    """Deterministic list of (text, emotion) pairs, `per_emotion` unique texts per emotion in EMOTIONS order
    (shuffled within the whole list with `seed`). Raises ValueError if per_emotion < 1 or if the banks cannot
    make that many unique lines (say how many they can make)."""
    if isinstance(per_emotion, bool) or not isinstance(per_emotion, int):
        raise ValueError(f"per_emotion must be an int, got {per_emotion!r}")
    if per_emotion < 1:
        raise ValueError(f"per_emotion must be at least 1, got {per_emotion}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed must be an int, got {seed!r}")

    for emotion in EMOTIONS:
        bank = _bank(emotion)
        upper_bound = len(bank.lines) + sum(template.size for template in bank.templates)
        if per_emotion > upper_bound:
            raise ValueError(
                f"the {emotion!r} bank can make only {_capacity(emotion)} unique lines of "
                f"{MIN_WORDS}-{MAX_WORDS} words; asked for per_emotion={per_emotion}"
            )

    rng = random.Random(seed)
    taken: set[str] = set()
    corpus: list[tuple[str, str]] = []
    for emotion in EMOTIONS:
        lines = _draw(emotion, per_emotion, rng, taken)
        if len(lines) < per_emotion:
            raise ValueError(
                f"the {emotion!r} bank can make only {_capacity(emotion)} unique lines of "
                f"{MIN_WORDS}-{MAX_WORDS} words ({len(lines)} once lines shared with other emotions are "
                f"left out); asked for per_emotion={per_emotion}"
            )
        corpus.extend((line, emotion) for line in lines)
    rng.shuffle(corpus)
    return corpus
